"""sunor: Suno and Udio behind one task endpoint (seed 001 and the provider's docs)."""

from .provider import Sunor as PROVIDER

__all__ = ["PROVIDER"]
