"""orux: one key, every model (seed 000)."""

from .provider import Orux as PROVIDER

__all__ = ["PROVIDER"]
