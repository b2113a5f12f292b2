"""Berth's container engine: the Docker Engine API on runc, conmon and overlayfs."""

__version__ = "0.1.0"
