"""acedata: Suno through the acedata gateway (seed 002 and the provider's public docs)."""

from .provider import Acedata as PROVIDER

__all__ = ["PROVIDER"]
