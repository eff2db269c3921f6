"""orux (seed 000): one key, every model. ``POST /api/v1/tasks`` starts a task of any
model (Suno v5 with its chained actions, ElevenLabs v3 speech, ElevenLabs music, Runway
Act-Two) and ``GET /api/v1/tasks/{task_id}`` polls it through QUEUED → RUNNING →
SUCCESS | FAILED, and EXPIRED once results pass their retention. Webhooks are signed:
``X-Orux-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"{X-Orux-Timestamp}." + body``.

The package:

- :mod:`.driver`: the :class:`Driver` (requests, statuses, media, refused bodies, webhook
  verification) and the dialect's constants;
- :mod:`.calls`: what the cases send: tasks submitted and polled to their end, orux's
  error shape, the simulator's accounts;
- :mod:`.results`: what the cases read in a finished task: songs, links, chain refs;
- one module per group of cases, each with ``add(catalog, driver)``: :mod:`.chains`,
  :mod:`.credits`, :mod:`.scenarios`, :mod:`.states`, :mod:`.shapes`, :mod:`.callbacks`.
"""

from __future__ import annotations

from ...case import Catalog
from . import callbacks, chains, credits, scenarios, shapes, states
from .driver import DRIVER, Orux

__all__ = ["DRIVER", "add_cases"]


def add_cases(catalog: Catalog, driver: Orux) -> None:
    """The dialect's own cases; the longest first, so they start while the short ones
    fill the other slots."""
    for group in (chains, credits, scenarios, states, shapes, callbacks):
        group.add(catalog, driver)
