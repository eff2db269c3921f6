"""Seeded identifiers and random draws.

Every id, timing jitter and media seed comes from one generator, so the same ``--seed``
and the same request sequence reproduce the same run.
"""

from __future__ import annotations

import os
import random
import string

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Ids:
    def __init__(self, seed: int | None = None):
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(8), "big")
        self.rng = random.Random(self.seed)

    def reset(self) -> None:
        self.rng = random.Random(self.seed)

    def branch(self, salt: str) -> None:
        """Draw from here on from the seed and ``salt`` together: after a state is
        loaded, a seeded run must not draw again the ids the state's own run drew (the
        seed alone would start there), yet loading the same state must draw the same."""
        self.rng = random.Random(f"{self.seed}:{salt}")

    def token(self, length: int, alphabet: str = _LOWER_ALNUM) -> str:
        # The draws of rng.choices(alphabet, k=length), without its per-call set-up.
        draw, size = self.rng.random, len(alphabet)
        return "".join([alphabet[int(draw() * size)] for _ in range(length)])

    def uuid(self) -> str:
        """A random (version 4) UUID in its usual text form."""
        bits = (self.rng.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) \
            & ~(0xC000 << 48) | (0x8000 << 48)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ulid(self, at: float) -> str:
        """A ULID: the time ``at`` in milliseconds, then 80 random bits, Crockford
        base32, so ids sort by creation time."""
        value = (int(at * 1000) & (2 ** 48 - 1)) << 80 | self.rng.getrandbits(80)
        return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))

    def seed32(self) -> int:
        return self.rng.getrandbits(32)

    def uniform(self, low: float, high: float) -> float:
        # random.Random.uniform's own formula, without its call: the same draws.
        return low + (high - low) * self.rng.random()

    def choice(self, seq):
        return self.rng.choice(seq)
