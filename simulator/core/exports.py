"""Files of a finished clip that are made only when a client asks for them (a song's
music video), whatever dialect asks.

Such an export is an ordinary task of the core; the task's meta names the clip and the
file it makes. Until one of them has succeeded, the media server holds that file back,
so the moment a link starts to work is the moment the core says the export is done.
A clip's files that nobody asked to export are served as soon as the clip is ready.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .models import SUCCEEDED, Task
from .progress import TaskNotFound

if TYPE_CHECKING:
    from .engine import Engine

# The key of Task.meta under which an export task names what it makes.
MAKES = "makes"
# The lifecycle profile of a music video made on request.
VIDEO_EXPORT = "video-export"
# The key of Task.meta under which a clip's own task lists the work asked of its clips
# (exports, conversions): found from the clip, not by reading every task of the key.
ASKED = "asked"


def marker(clip_id: str, file: str) -> dict[str, Any]:
    """The meta an export task of the clip's ``file`` carries, to merge into its own."""
    return {MAKES: {"clip_id": clip_id, "file": file}}


async def ask(engine: Engine, clip_id: str, task: Task) -> None:
    """Note on the clip's own task that ``task`` was started on the clip."""
    found = await engine.find_clip(clip_id)
    if found is not None:
        with contextlib.suppress(TaskNotFound):  # let go meanwhile: nothing to note on
            await engine.note(found[0].id, ASKED, task.id)


async def asked_of(engine: Engine, clip_id: str) -> list[Task]:
    """The tasks started on the clip (those still kept), oldest first."""
    found = await engine.find_clip(clip_id)
    if found is None:
        return []
    asked = [await engine.task(task_id) for task_id in found[0].meta.get(ASKED, ())]
    return [task for task in asked if task is not None]


async def exports_of(engine: Engine, clip_id: str, file: str) -> list[Task]:
    """Every export of the clip's ``file`` asked for so far, oldest first."""
    wanted = {"clip_id": clip_id, "file": file}
    return [task for task in await asked_of(engine, clip_id)
            if task.meta.get(MAKES) == wanted]


async def held_back(engine: Engine, clip_id: str, file: str) -> bool:
    """Whether the clip's ``file`` was asked to be exported and is not made yet."""
    made = await exports_of(engine, clip_id, file)
    return bool(made) and not any(task.status == SUCCEEDED for task in made)
