"""Clients of the APIs `collect` pays for; each takes an injected session and URL."""
