"""The /_sim control plane shared by every provider."""

from .routes import admin_routes

__all__ = ["admin_routes"]
