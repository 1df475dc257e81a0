"""TrustDesk: service and trust operations for online marketplaces."""

__version__ = "0.1.0"
