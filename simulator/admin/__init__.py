"""The /_sim control plane shared by every provider."""

from .answers import answered_in_json
from .events import Streams
from .routes import admin_routes

__all__ = ["Streams", "admin_routes", "answered_in_json"]
