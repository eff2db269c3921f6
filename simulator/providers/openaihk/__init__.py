"""The openaihk dialect: Suno-native shapes through the openai-hk gateway (seed 003)."""

from .provider import Openaihk

__all__ = ["Openaihk"]
