"""Command-line wiring (placeholder while the commands are built)."""

import click


@click.group()
def main() -> None:
    """Find the eBay sellers who resell Amazon's best-selling products."""
