"""openaihk (seed 003): Suno's own clip shapes, passed through the openai-hk gateway.

Every generation is ``POST /sunoapi/generate`` (the body's ``task`` picks the scenario);
the answer is a batch whose clips are then read with ``GET /sunoapi/feed/{id1,id2}``.
Songs are made from other songs (extend, concat, cover, infill, stems, personas, …),
and each clip has companions (timing, WAV, MP4, MIDI) that cost credits of their own.

The package:

* ``driver``: the :class:`~conformance.dialect.Driver` (a task is a batch's clip ids),
  the endpoints, the seed's lyrics, and the request bodies refused before any clip is
  looked at (run by the shared validation cases);
* ``calls``: what the cases share: submit and finish a generation, upload, read an
  ``act`` endpoint, check a refusal and a clip's media;
* ``library``: the song and upload most chains start from, made once per run;
* the cases, one module per group: ``scenarios``, ``chains`` (extend, concat, infill,
  cover, remaster), ``remixes`` (personas, stems, add instrumental / vocals, mashups;
  area ``chains`` too), ``media``, ``credits``, ``validation`` (rules on a named clip),
  ``ids`` and ``shapes``.
"""

from __future__ import annotations

from ...case import Catalog
from . import chains, credits, ids, media, remixes, scenarios, shapes, validation
from .driver import DRIVER, WORK, Openaihk

# WORK, the seed's example lyrics, is also what tests/test_openaihk_scenarios.py sings.
__all__ = ["DRIVER", "WORK", "add_cases"]

GROUPS = (scenarios, chains, remixes, media, credits, validation, ids, shapes)

# The runner starts cases in catalog order, so the longest (a song, then a song made from
# it, then a concat) come first, and the one that makes the shared library early.
FIRST = ("credits.chain-prices", "chains.cross-account", "scenarios.custom-lyrics",
         "scenarios.inspiration", "scenarios.custom-options", "credits.prices",
         "chains.extend-concat", "chains.upload-extend-concat", "chains.infill-concat",
         "chains.fixed-infill-timeline")


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    """The dialect's own cases, each group's in turn, the long ones moved first."""
    own = Catalog(catalog.provider)
    for group in GROUPS:
        group.add_cases(own, driver)
    rank = {f"{catalog.provider}.{name}": index for index, name in enumerate(FIRST)}
    for case in sorted(own.cases, key=lambda case: rank.get(case.id, len(rank))):
        catalog.add(case)
