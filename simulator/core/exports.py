"""Files of a finished clip that are made only when a client asks for them (a song's
music video), whatever dialect asks.

Such an export is an ordinary task of the core; the task's meta names the clip and the
file it makes. Until one of them has succeeded, the media server holds that file back,
so the moment a link starts to work is the moment the core says the export is done.
A clip's files that nobody asked to export are served as soon as the clip is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import SUCCEEDED, Task

if TYPE_CHECKING:
    from .engine import Engine

# The key of Task.meta under which an export task names what it makes.
MAKES = "makes"
# The lifecycle profile of a music video made on request.
VIDEO_EXPORT = "video-export"


def marker(clip_id: str, file: str) -> dict[str, Any]:
    """The meta an export task of the clip's ``file`` carries, to merge into its own."""
    return {MAKES: {"clip_id": clip_id, "file": file}}


async def exports_of(engine: Engine, clip_id: str, file: str) -> list[Task]:
    """Every export of the clip's ``file`` asked for so far, oldest first. Only the
    clip's owner can have asked, so only that key's tasks with its provider are read."""
    found = await engine.find_clip(clip_id)
    if found is None:
        return []
    owner = found[0]
    wanted = {"clip_id": clip_id, "file": file}
    return sorted((task for task in await engine.tasks(owner.provider, api_key=owner.api_key)
                   if task.meta.get(MAKES) == wanted), key=lambda task: task.created_at)


async def held_back(engine: Engine, clip_id: str, file: str) -> bool:
    """Whether the clip's ``file`` was asked to be exported and is not made yet."""
    made = await exports_of(engine, clip_id, file)
    return bool(made) and not any(task.status == SUCCEEDED for task in made)
