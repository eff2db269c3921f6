"""One module per dialect, each a thin translation layer over the core."""

from .acedata import Acedata
from .base import Provider
from .evolink import Evolink
from .openaihk import Openaihk
from .orux import Orux
from .sunor import Sunor

REGISTRY: dict[str, type[Provider]] = {cls.id: cls for cls in (Evolink, Acedata, Openaihk, Sunor, Orux)}

__all__ = ["Provider", "REGISTRY"]
