"""Simulated time.

Every timestamp and every due time in the simulator is read from one Clock, so the
same code runs in real time, faster than real time, or only when a test advances it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MODES = ("fast", "realtime", "scaled", "manual")

# A song that takes the real service about 100 s finishes in about 10 s of wall time.
FAST_SPEED = 10.0


class ClockError(ValueError):
    """A clock setting refused; ``param`` names the member at fault."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ClockState:
    mode: str
    speed: float
    now: float


class Clock:
    """Simulated seconds since the Unix epoch, as a scaled view of a monotonic clock.

    ``now = anchor_sim + (monotonic() - anchor_wall) * speed``; changing mode or speed
    re-anchors so that simulated time never jumps or runs backwards.
    """

    def __init__(self, mode: str = "fast", speed: float | None = None, epoch: float | None = None,
                 monotonic=time.monotonic):
        self._monotonic = monotonic
        self._anchor_sim = time.time() if epoch is None else float(epoch)
        self._anchor_wall = monotonic()
        self.mode = "manual"
        self.speed = 0.0  # frozen until set() chooses, so the epoch is exactly where it starts
        self.set(mode=mode, speed=speed)

    def now(self) -> float:
        if self.speed == 0.0:
            return self._anchor_sim
        return self._anchor_sim + (self._monotonic() - self._anchor_wall) * self.speed

    def set(self, mode: str | None = None, speed: float | None = None) -> None:
        """Switch mode and/or speed; ``speed`` alone means the scaled mode."""
        if mode is not None and mode not in MODES:
            raise ClockError(f"clock mode must be one of {', '.join(MODES)}", "mode")
        if speed is not None and (speed != speed or speed <= 0 or speed > 1e6):
            raise ClockError("clock speed must be a number above 0 and at most 1000000", "speed")
        if mode is None:
            mode = "scaled" if speed is not None else self.mode
        if mode == "fast":
            new_speed = FAST_SPEED if speed is None else speed
        elif mode == "realtime":
            new_speed = 1.0 if speed is None else speed
        elif mode == "manual":
            new_speed = 0.0
        else:
            new_speed = speed if speed is not None else (self.speed or 1.0)
        self._anchor_sim = self.now()
        self._anchor_wall = self._monotonic()
        self.mode, self.speed = mode, float(new_speed)

    def advance(self, seconds: float) -> float:
        """Move simulated time forward by ``seconds`` (any mode); returns the new now."""
        if seconds != seconds or seconds < 0:
            raise ClockError("seconds must be a number of at least 0", "seconds")
        self._anchor_sim += seconds
        return self.now()

    def jump_to(self, at: float) -> float:
        """Put simulated time at ``at``, earlier or later, keeping mode and speed; returns
        the new now. Only for a state being loaded, which brings its own moment: the
        engine is reset with it, wiping everything timed against the clock, so nothing
        is left to see time run backwards."""
        self._anchor_sim = float(at)
        self._anchor_wall = self._monotonic()
        return self.now()

    def dump(self) -> dict[str, float | str]:
        """The setting as a document a store keeps: with ``monotonic`` a wall clock every
        process shares, each reads the same now from it (see core/durable.py)."""
        return {"mode": self.mode, "speed": self.speed, "anchor_sim": self._anchor_sim,
                "anchor_wall": self._anchor_wall}

    def load(self, document: dict[str, float | str]) -> None:
        self.mode, self.speed = str(document["mode"]), float(document["speed"])
        self._anchor_sim = float(document["anchor_sim"])
        self._anchor_wall = float(document["anchor_wall"])

    def wall_delay(self, sim_seconds: float) -> float | None:
        """Wall seconds until ``sim_seconds`` of simulated time pass; None if time is frozen."""
        if self.speed == 0.0:
            return None
        return max(0.0, sim_seconds / self.speed)

    def state(self) -> ClockState:
        return ClockState(self.mode, self.speed, self.now())
