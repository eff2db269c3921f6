"""The orux dialect: one key for Suno, ElevenLabs and Runway models (seed 000)."""

from .provider import Orux

__all__ = ["Orux"]
