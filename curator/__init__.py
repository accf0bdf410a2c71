"""Curator: a self-hosted monthly newsletter of growth resources."""

__version__ = "0.1.0"
