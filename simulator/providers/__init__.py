"""One package per dialect, all of the same shape, over the shared layer in ``base``."""

from importlib import import_module

from ..dialects import DIALECTS
from .base import Provider


def _provider(dialect: str) -> type[Provider]:
    return import_module(f"{__name__}.{dialect}").PROVIDER


REGISTRY: dict[str, type[Provider]] = {dialect: _provider(dialect) for dialect in DIALECTS}

__all__ = ["Provider", "REGISTRY"]
