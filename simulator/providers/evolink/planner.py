"""What an evolink request makes: two variations of one song, in simple mode (the
service writes title, style and lyrics from the prompt) or custom mode (the caller's)."""

from __future__ import annotations

from typing import Any

from ...core.clips import ClipSpec
from ...core.engine import Engine

VARIATIONS = 2
MODES = {
    False: lambda engine, body: engine.compose(body.get("prompt") or "",
                                               instrumental=body.get("instrumental") is True),
    True: lambda engine, body: engine.compose(body["style"], title=body["title"],
                                              tags=body["style"],
                                              lyrics=body.get("prompt") or "",
                                              instrumental=body.get("instrumental") is True),
}


def songs(engine: Engine, body: dict[str, Any]) -> list[ClipSpec]:
    return [MODES[body.get("custom_mode") is True](engine, body)] * VARIATIONS
