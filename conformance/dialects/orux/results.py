"""Reading a finished task: its songs, the links it lists, where it hangs in a chain, and
whether the media behind its links are what they claim."""

from __future__ import annotations

import re
from typing import Any

from ...case import expect
from ...common import check_media
from .driver import DRIVER, PRICES


def sung_lines(lyrics: str) -> list[str]:
    """The lines of lyrics that are sung: no blank lines, no [Section] tags."""
    return [line.strip() for line in (lyrics or "").splitlines()
            if line.strip() and not re.fullmatch(r"\[[^\]]*\]", line.strip())]


def clips_of(task: dict[str, Any], count: int | None = None) -> list[dict[str, Any]]:
    """A task's songs (``count`` of them, if given), each listed in audio_urls."""
    result = task.get("result") or {}
    clips = result.get("clips") or []
    if count is not None:
        expect(len(clips) == count, f"{task.get('action') or task.get('model')}: "
                                    f"{len(clips)} songs, expected {count}")
    expect(result.get("audio_urls") == [c["audio_url"] for c in clips],
           f"audio_urls do not list each song's audio_url: {result.get('audio_urls')}")
    return clips


def check_chain_refs(task: dict[str, Any], action: str, parent: str, root: str) -> None:
    """A chained task names its action, parent and root song, and the action's price."""
    expect(task.get("model") == "suno-v5" and task.get("channel") == "suno",
           f"{action}: model {task.get('model')!r} on channel {task.get('channel')!r}")
    expect(task.get("action") == action, f"{action}: the task says action "
                                         f"{task.get('action')!r}")
    expect(task.get("parent_task_id") == parent,
           f"{action}: parent_task_id {task.get('parent_task_id')!r}, expected {parent}")
    expect(task.get("root_task_id") == root,
           f"{action}: root_task_id {task.get('root_task_id')!r}, expected the original {root}")
    expect(task.get("credits") == PRICES[action],
           f"{action}: credits {task.get('credits')!r}, the price is {PRICES[action]:g}")


def check_result_urls(task: dict[str, Any]) -> None:
    """``result_urls`` lists every asset of the result: audio, then video, then image."""
    result = task.get("result") or {}
    links = list(result.get("audio_urls") or ())
    links += [result[name] for name in ("video_url", "image_url") if result.get(name)]
    expect(task.get("result_urls") == links,
           f"result_urls {task.get('result_urls')} do not list the result's links {links}")


async def check_all_media(ctx, task: dict[str, Any]) -> None:
    """Every link of the task serves what it claims."""
    media = DRIVER.media_of(task)
    expect(media, f"task {task.get('task_id')} links no media: {task}")
    for item in media:
        await check_media(ctx, item)


async def check_media_sample(ctx, task: dict[str, Any]) -> None:
    """The task's links, but of its songs only the first (and a vocals stem): each song
    is rendered when first fetched, and fetching every one of a chain costs only time."""
    result = task.get("result") or {}
    names = {s.get("audio_url"): s.get("name") for s in result.get("stems") or ()}
    skip = set()
    for clip in (result.get("clips") or [])[1:]:
        if names.get(clip["audio_url"]) != "vocals":
            skip |= {clip["audio_url"], clip["image_url"]}
    media = [m for m in DRIVER.media_of(task) if m.url not in skip]
    expect(media, f"task {task.get('task_id')} links no media: {task}")
    for item in media:
        await check_media(ctx, item)
