"""openaihk: Suno's own shapes, passed through the openai-hk gateway (seed 003)."""

from .provider import Openaihk as PROVIDER

__all__ = ["PROVIDER"]
