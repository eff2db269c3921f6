"""Which engine each API key belongs to.

One index for every sandbox (see :mod:`.sandboxes`): a key is taken once across them
all, and a request finds the engine that answers it in one lookup.
"""

from __future__ import annotations

from typing import Any

# The name of the server's own engine among the sandboxes.
DEFAULT_SANDBOX = "default"


class Keys:
    def __init__(self) -> None:
        self._owners: dict[str, Any] = {}

    def claim(self, key: str, owner: Any) -> bool:
        """Take ``key`` for ``owner``; False when another (or the same) owner has it."""
        if key in self._owners:
            return False
        self._owners[key] = owner
        return True

    def release(self, key: str) -> None:
        self._owners.pop(key, None)

    def release_all(self, owner: Any) -> None:
        for key in [k for k, o in self._owners.items() if o is owner]:
            del self._owners[key]

    def owner(self, key: str | None) -> Any:
        return self._owners.get(key) if key is not None else None
