"""What sunor's wire looks like: its endpoints and prices, a task body, and where a
polled task keeps its results. Shared by the driver, the refused requests and the cases."""

from __future__ import annotations

from typing import Any

from ...dialect import Media

TASK = "/api/v1/task"
BALANCE = "/api/v1/account/balance"
# Credits per task as the provider publishes them (fixtures/prices.toml, [sunor]).
PRICES = {("suno", "music"): 10, ("suno", "lyrics"): 5, ("suno", "upload"): 1,
          ("suno", "concat"): 5, ("udio", "music"): 5}
SONG_PRICE = PRICES[("suno", "music")]
OUTSIDE_URL = "https://example.com/my-audio.mp3"  # the seed's upload example


def music(model: str, **given: Any) -> dict[str, Any]:
    """A music task of ``model`` with ``given`` as its input."""
    return {"model": model, "task_type": "music", "input": given}


def suno(task_type: str, **given: Any) -> dict[str, Any]:
    """A Suno task of ``task_type`` with ``given`` as its input."""
    return {"model": "suno", "task_type": task_type, "input": given}


def results_of(data: Any) -> list[dict[str, Any]]:
    """The items of a polled task's ``output.result``: clips, or one lyrics text."""
    inner = data.get("data") if isinstance(data, dict) else None
    output = inner.get("output") if isinstance(inner, dict) else None
    items = output.get("result") if isinstance(output, dict) else None
    return [i for i in items or () if isinstance(i, dict)]


def media_of(items: list[dict[str, Any]]) -> list[Media]:
    """Each clip's audio (with the duration it claims) and cover; lyrics have none."""
    media = []
    for item in items:
        if "audio_url" not in item:  # lyrics: text only
            continue
        media += [Media(item["audio_url"], "audio", (item.get("metadata") or {}).get(
            "duration")), Media(item["image_url"], "image")]
    return media
