"""Per-key token buckets, measured in wall time.

Rate limits guard the client's real request rate, so they run on the wall clock even
when simulated time is frozen or fast.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float   # tokens per second; 0 disables the limit
    burst: float  # bucket size


class RateLimiter:
    def __init__(self, monotonic=time.monotonic):
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, str], list[float]] = {}

    def take(self, scope: str, key: str, limit: Limit) -> float | None:
        """Spend one token; None when allowed, else whole seconds to wait (≥ 1)."""
        if limit.rate <= 0:
            return None
        now = self._monotonic()
        bucket = self._buckets.get((scope, key))
        if bucket is None:
            bucket = self._buckets[(scope, key)] = [limit.burst, now]
        tokens = min(limit.burst, bucket[0] + (now - bucket[1]) * limit.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return None
        bucket[0] = tokens
        return max(1, math.ceil((1.0 - tokens) / limit.rate))

    def reset(self) -> None:
        self._buckets.clear()
