"""collect: find the eBay sellers who resell Amazon's best-selling products."""

__version__ = "0.1.0"
