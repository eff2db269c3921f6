"""The /_sim control plane shared by every provider."""

from .answers import answered_in_json
from .routes import admin_routes

__all__ = ["admin_routes", "answered_in_json"]
