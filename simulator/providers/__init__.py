"""One module per dialect, each a thin translation layer over the core."""

from .base import Provider
from .evolink import Evolink

REGISTRY: dict[str, type[Provider]] = {cls.id: cls for cls in (Evolink,)}

__all__ = ["Provider", "REGISTRY"]
