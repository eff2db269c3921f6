"""acedata (seed 002): Suno through the acedata gateway.

``POST /suno/audios`` takes an ``action`` and answers in one of three ways: it waits for
the songs (the default), streams snapshots of the task as NDJSON (``accept:
application/x-ndjson``), or, with ``async: true``, returns the task id at once for
``POST /suno/tasks`` (``{"action": "retrieve", "id"}``) to follow. The driver uses the
asynchronous form.

A task record carries no status word of its own: the driver reads one from its shape.
No ``response`` yet is ``pending``; a partial response (no ``success``) is ``running``;
the final one is ``succeeded`` (``success: true``) or ``failed`` (``success: false`` and
the error). The answer of an asynchronous submit (the task id only) is ``pending`` too.
Errors are ``{"error": {"code", "message"}, "trace_id"}``; a task's adds ``success:
false`` and ``task_id``.

The package:

- :mod:`.driver`: the :class:`~.driver.Acedata` driver, the endpoints, the price list
  and the requests the seed says are refused (the shared validation cases);
- :mod:`.calls`: what the cases share: submitting an action and following its task, the
  source song, the companion endpoints, the error shape, hearing a song;
- one module per group of cases, each with an ``add_*_cases``: :mod:`.tasks` (records,
  ids, errors), :mod:`.credits`, :mod:`.chains` (actions on a song), :mod:`.scenarios`,
  :mod:`.callbacks` and :mod:`.companions`.
"""

from __future__ import annotations

from ...case import Catalog
from .callbacks import add_callback_cases
from .chains import add_chain_cases
from .companions import add_companion_cases
from .credits import add_credit_cases
from .driver import DRIVER, Acedata
from .scenarios import add_scenario_cases
from .tasks import add_task_cases

__all__ = ["DRIVER", "add_cases"]


def add_cases(catalog: Catalog, driver: Acedata) -> None:
    """The dialect's own cases, after the shared ones; the longest cases come first, so
    that a run packs them best."""
    add_task_cases(catalog, driver)
    add_credit_cases(catalog, driver)
    add_chain_cases(catalog, driver)
    add_scenario_cases(catalog, driver)
    add_callback_cases(catalog, driver)
    add_companion_cases(catalog, driver)
