"""evolink: the unified task API (seed 004)."""

from .provider import Evolink as PROVIDER

__all__ = ["PROVIDER"]
