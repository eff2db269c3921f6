"""The records the core keeps: accounts, ledger entries, tasks and the clips they make.

Canonical task states are ``queued → running → succeeded | failed``; each dialect maps
them onto its own words. Stages mark what a running task has produced so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import songwriter
from .recipes import Audio, Song

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
# A succeeded task whose results have passed the dialect's retention; it is read from the
# clock (``Task.state``), never stored, so no timer is needed per task.
EXPIRED = "expired"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED)
TERMINAL = frozenset({SUCCEEDED, FAILED})
# A state may only move to one of higher rank.
RANK = {QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, EXPIRED: 3}


@dataclass(slots=True)
class Account:
    api_key: str
    available: float = 0.0
    held: float = 0.0
    spent: float = 0.0
    granted: float = 0.0
    models: list[str] | None = None  # None: every model
    created_at: float = 0.0
    webhook_secret: str = ""  # signs the callbacks of dialects that sign theirs

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "credits": self.available,
            "held": self.held,
            "spent": self.spent,
            "granted": self.granted,
            "models": self.models,
            "created_at": self.created_at,
            "webhook_secret": self.webhook_secret,
        }


# What each kind of movement does to an account's balances, per credit of its amount:
# (available, held, spent, granted). A store folding movements away, and anyone adding a
# ledger up, reads them from here.
MOVEMENTS: dict[str, tuple[int, int, int, int]] = {
    "grant": (1, 0, 0, 1), "hold": (-1, 1, 0, 0), "settle": (0, -1, 1, 0),
    "release": (1, -1, 0, 0)}
# The kind of the one entry that stands for every movement of tasks let go (see ledger.py).
OPENING = "opening"


class LedgerEntry(NamedTuple):
    """One movement, never changed once made (a tuple of plain values, which the garbage
    collector stops following: a busy server keeps hundreds of thousands)."""

    id: int
    api_key: str
    time: float
    kind: str  # grant | hold | settle | release | opening
    amount: float
    task_id: str | None
    available: float  # balances after the movement
    held: float
    spent: float

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(slots=True)
class Clip:
    """One song a task produced: the facts media is rendered from and the API reports.

    Title, tags and lyrics the caller gave are kept as given; the ones the service
    writes (None here) come from the description and ``text_seed`` when read.
    """

    id: str
    seed: int  # the audio's
    duration: float
    instrumental: bool
    description: str
    text_seed: int
    given_title: str | None
    given_tags: str | None
    given_lyrics: str | None
    derived: Audio | None = None  # how the audio is made, when not a new song
    lineage: dict[str, Any] | None = None  # the action and sources it came from
    # Gateways make songs on pooled upstream accounts; once the one that made this clip
    # has expired, operations that cannot cross accounts fail on it.
    upstream_expired: bool = False

    @property
    def recipe(self) -> Audio:
        if self.derived is not None:
            return self.derived
        return Song(self.seed, self.duration, self.tags, self.instrumental,
                    songwriter.form_of(self.lyrics))

    @property
    def title(self) -> str:
        if self.given_title is not None:
            return self.given_title
        return songwriter.title_from(self.description, self.text_seed)

    @property
    def tags(self) -> str:
        if self.given_tags is not None:
            return self.given_tags
        return songwriter.tags_from(self.description, self.text_seed)

    @property
    def lyrics(self) -> str:
        if self.instrumental:
            return ""
        if self.given_lyrics is not None:
            return self.given_lyrics
        return songwriter.lyrics_from(self.description, self.text_seed)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "seed": self.seed, "title": self.title, "tags": self.tags,
                "duration": self.duration, "lyrics": self.lyrics,
                "instrumental": self.instrumental, "lineage": self.lineage,
                "upstream_expired": self.upstream_expired}


@dataclass(slots=True)
class Persona:
    """A singer's voice and style, taken from a song, reusable across generations."""

    id: str
    api_key: str
    name: str
    source_clip_id: str
    created_at: float
    description: str = ""
    kind: str = "persona"  # persona | vox | voice
    vox_clip_id: str | None = None


@dataclass(slots=True)
class Task:
    id: str
    provider: str
    kind: str
    api_key: str
    params: dict[str, Any]
    created_at: float
    cost: float = 0.0
    status: str = QUEUED
    stage: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    eta: float | None = None  # simulated time the task is due to finish, if ever
    clips: list[Clip] = field(default_factory=list)
    error: dict[str, str] | None = None
    callback_url: str | None = None
    history: list[tuple[float, str]] = field(default_factory=list)
    # Fixed at submission; a tuple of plain values, which the garbage collector stops
    # following.
    plan: tuple[tuple[float, str], ...] = ()
    step: int = 0  # index of the next plan event
    meta: dict[str, Any] = field(default_factory=dict)  # the dialect's own bookkeeping
    retention: float | None = None  # seconds results are kept after success; None: forever
    expires_at: float | None = None  # set on success when the dialect keeps results a while
    ttl: float | None = None  # seconds the dialect lets it run before it fails TIMED_OUT
    # Events written but not yet heard by the dialect, on a store that outlives the
    # process, and the process hearing them: if it dies first, they are heard at restart.
    unheard: tuple[str, ...] = ()
    hearer: str = ""
    # Bumped by the store on every write; a write of a task read at an older version is
    # refused (StaleWrite), so two changes racing on one task never lose one of them.
    version: int = 0
    # Set by the store when the task is first written, increasing: its place in creation
    # order, which lists of tasks keep and a page cursor names.
    seq: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def state(self, now: float) -> str:
        """The status as of ``now``: a succeeded task reads EXPIRED once its results lapse."""
        return EXPIRED if self.expired(now) else self.status

    @property
    def ready_clips(self) -> int:
        """How many clips have playable media: the first at stage first, all on success."""
        if self.status == SUCCEEDED:
            return len(self.clips)
        if self.stage in ("first", "complete") and self.status == RUNNING:
            return min(1, len(self.clips))
        return 0

    def clip_ready(self, clip: Clip) -> bool:
        """Whether one clip is finished: usable by every action from the moment its own
        state reads so, whatever its siblings' states."""
        return self.clips.index(clip) < self.ready_clips

    def progress(self, now: float) -> int:
        """0–100, rising with simulated time while running; derived, never stored."""
        if self.status == SUCCEEDED:
            return 100
        if self.status == QUEUED or self.started_at is None:
            return 0
        if self.status == FAILED:
            return self._elapsed_pct(self.finished_at or now)
        return min(99, self._elapsed_pct(now))

    def _elapsed_pct(self, now: float) -> int:
        if self.eta is None or self.started_at is None:
            return 50
        span = self.eta - self.started_at
        if span <= 0:
            return 99
        return max(1, min(99, int((now - self.started_at) / span * 100)))

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "kind": self.kind,
            "api_key": self.api_key,
            "status": self.state(now),
            "stage": self.stage,
            "progress": self.progress(now),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "eta": self.eta,
            "expires_at": self.expires_at,
            "cost": self.cost,
            "error": self.error,
            "callback_url": self.callback_url,
            "params": self.params,
            "clips": [c.to_dict() for c in self.clips],
            "history": [{"time": t, "event": e} for t, e in self.history],
        }
