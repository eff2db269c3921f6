"""Where the specs and fixtures live: the source tree, or the installed package."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``specs`` or ``fixtures``: beside the package in a checkout, inside it when installed."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / f"_{name}"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"musicsim resource folder {name!r} is missing from this install")
