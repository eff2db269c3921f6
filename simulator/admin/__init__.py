"""The /_sim control plane shared by every provider."""

from .routes import admin_routes, answered_in_json

__all__ = ["admin_routes", "answered_in_json"]
