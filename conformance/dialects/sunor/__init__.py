"""sunor (seed 001): Suno and Udio behind one task endpoint.

``POST /api/v1/task`` takes ``{model, task_type, input}`` with the key in ``x-api-key`` and
answers 202 ``{"code": 202, "data": {task_id, type, status: "pending", credits_charged,
created_at}}``, the credits frozen; ``GET /api/v1/task/{task_id}`` polls it through
pending → running → success | failure | timeout; ``GET /api/v1/account/balance`` shows
``{available, frozen, total}``. Errors are ``{"code": status, "message"}``.

The package, each module one job:

- ``api``: endpoints, prices, task bodies, where a result keeps its clips;
- ``driver``: the :class:`~.driver.Sunor` driver the shared cases run on (``DRIVER``);
- ``validation``: the requests the seed says are refused, sent by the shared cases;
- ``calls``: what the own cases share: submit, finish, the balance, clips, likeness;
- ``scenarios``, ``chains``, ``states``, ``auth``, ``credits``, ``rate_limits``: the
  dialect's own cases, one group each, registered by :func:`add_cases` in that order.
"""

from __future__ import annotations

from ...case import Catalog
from .auth import add_auth_cases
from .chains import add_chain_cases
from .credits import add_credit_cases
from .driver import DRIVER, Sunor
from .rate_limits import add_rate_limit_cases
from .scenarios import add_scenario_cases
from .states import add_state_cases

__all__ = ["DRIVER", "add_cases"]


def add_cases(catalog: Catalog, driver: Sunor) -> None:
    """The dialect's own cases, after the shared and upstream ones."""
    add_scenario_cases(catalog, driver)
    add_chain_cases(catalog, driver)
    add_state_cases(catalog, driver)
    add_auth_cases(catalog, driver)
    add_credit_cases(catalog, driver)
    add_rate_limit_cases(catalog, driver)
