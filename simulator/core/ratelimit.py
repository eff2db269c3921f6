"""Per-key token buckets, measured in wall time.

Rate limits guard the client's real request rate, so they run on the wall clock even
when simulated time is frozen or fast. Each dialect has a default limit; the control
plane can change a dialect's, or give one key its own.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, NamedTuple


@dataclass(frozen=True)
class Limit:
    rate: float   # tokens per second; 0 disables the limit
    burst: float  # bucket size

    @property
    def off(self) -> bool:
        return self.rate <= 0

    @functools.cached_property
    def unlimited(self) -> Verdict:
        """The verdict on every request while the limit is off: the same each time."""
        return Verdict(True, self, 0, 0, 0.0)

    def to_dict(self) -> dict[str, float]:
        return {"rate": self.rate, "burst": self.burst}


OFF = Limit(0.0, 1.0)


class Verdict(NamedTuple):
    """One request's place in its bucket: what rate-limit headers report. (A tuple:
    every request makes one.)"""

    allowed: bool
    limit: Limit
    remaining: int  # whole requests left in the bucket
    wait: int       # whole seconds until the next request may go (0 when allowed)
    full_in: float  # seconds until the bucket is full again


# On a shared store: spend one token of the named bucket there, every process's requests
# counted together; (allowed, tokens left) after the request.
SharedTake = Callable[[str, Limit, float], Awaitable[tuple[bool, float]]]


class RateLimiter:
    def __init__(self, limits: dict[str, Limit] | None = None, monotonic=time.monotonic):
        self._monotonic = monotonic
        self.shared: SharedTake | None = None
        self._defaults = dict(limits or {})
        self._limits = dict(self._defaults)
        self._per_key: dict[tuple[str, str], Limit] = {}
        self._buckets: dict[tuple[str, str], list[float]] = {}

    def limit(self, scope: str, key: str | None = None) -> Limit:
        own = self._per_key.get((scope, key)) if key is not None else None
        return own if own is not None else self._limits.get(scope, OFF)

    def limits(self) -> dict[str, Limit]:
        return dict(self._limits)

    def per_key(self) -> dict[tuple[str, str], Limit]:
        return dict(self._per_key)

    def configure(self, scope: str, limit: Limit, key: str | None = None) -> None:
        """Change a dialect's limit, or one key's; the affected buckets start full."""
        if key is None:
            self._limits[scope] = limit
            for bucket in [b for b in self._buckets if b[0] == scope]:
                del self._buckets[bucket]
        else:
            self._per_key[(scope, key)] = limit
            self._buckets.pop((scope, key), None)

    def take(self, scope: str, key: str) -> Verdict | Awaitable[Verdict]:
        """Spend one token if there is one. On a shared store the bucket is there: an
        awaitable of the verdict (a limit that is off needs no bucket, and answers at once)."""
        limit = self._per_key.get((scope, key)) or self._limits.get(scope, OFF)
        if limit.off:
            return limit.unlimited
        if self.shared is not None:
            return self._take_shared(scope, key, limit)
        now = self._monotonic()
        bucket = self._buckets.get((scope, key))
        if bucket is None:
            bucket = self._buckets[(scope, key)] = [limit.burst, now]
        tokens = min(limit.burst, bucket[0] + (now - bucket[1]) * limit.rate)
        bucket[1] = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        bucket[0] = tokens
        return _verdict(allowed, limit, tokens)

    async def _take_shared(self, scope: str, key: str, limit: Limit) -> Verdict:
        allowed, tokens = await self.shared(f"{scope}\n{key}", limit, self._monotonic())
        return _verdict(allowed, limit, tokens)

    def dump(self) -> dict[str, Any]:
        """The limits as a document a store keeps (see core/durable.py)."""
        return {"limits": {scope: [l.rate, l.burst] for scope, l in self._limits.items()},
                "per_key": [[scope, key, l.rate, l.burst]
                            for (scope, key), l in self._per_key.items()]}

    def load(self, document: dict[str, Any]) -> None:
        self._limits = {scope: Limit(*pair) for scope, pair in document["limits"].items()}
        self._per_key = {(scope, key): Limit(rate, burst)
                         for scope, key, rate, burst in document["per_key"]}
        self._buckets.clear()

    def reset(self) -> None:
        """Full buckets and the limits the simulator started with."""
        self._buckets.clear()
        self._per_key.clear()
        self._limits = dict(self._defaults)


def _verdict(allowed: bool, limit: Limit, tokens: float) -> Verdict:
    wait = 0 if allowed else max(1, math.ceil((1.0 - tokens) / limit.rate))
    return Verdict(allowed, limit, int(tokens), wait, (limit.burst - tokens) / limit.rate)
