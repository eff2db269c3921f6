"""A running simulator's control plane as plain method calls: what the pytest plugin's
``musicsim`` fixture hands a test, and what the client runner grades with. It needs
nothing beyond the standard library, so every command works on a plain install."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ControlPlaneError(RuntimeError):
    """The control plane refused a call: its status and answer."""


class Clock:
    def __init__(self, sim: "MusicSim"):
        self._sim = sim

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move a manual clock forward; every timer due in between fires, in order."""
        return self._sim.admin("POST", "/clock/advance", {"seconds": seconds})

    def set(self, mode: str | None = None, speed: float | None = None) -> dict[str, Any]:
        """``manual``, ``fast``, ``realtime`` or ``scaled`` (with ``speed``)."""
        body = {k: v for k, v in (("mode", mode), ("speed", speed)) if v is not None}
        return self._sim.admin("PUT", "/clock", body)

    def now(self) -> float:
        return self._sim.admin("GET", "/clock")["now"]


class MusicSim:
    """A running simulator and its control plane, as plain method calls."""

    def __init__(self, url: str, api_key: str, token: str | None = None,
                 sandbox: str | None = None):
        self.url = url.rstrip("/")
        self.api_key = api_key  # the demo key: plenty of credits
        self._token = token
        # A sandbox's control plane is its own prefix; the default sandbox's is /_sim.
        self.sandbox_id = sandbox
        self._control = "/_sim" if sandbox is None else f"/_sim/sandboxes/{sandbox}"
        self._keys: dict[str, str] = {}  # a loaded state file's keys, as loaded
        self.clock = Clock(self)

    def base_url(self, provider: str) -> str:
        """Where a dialect's paths start: point the client under test here."""
        return f"{self.url}/{provider}"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """One call on this sandbox's control plane; its JSON answer, or
        ControlPlaneError."""
        return self.server(method, self._control + path, body)

    def server(self, method: str, path: str, body: Any = None) -> Any:
        """One call on the server's control plane, by its whole path (``/_sim/…``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ControlPlaneError(f"{method} {path}: {exc.code} "
                                    f"{exc.read().decode('utf-8', 'replace')}") from None
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        """Back to the start-up state: accounts, tasks, faults, journal, clock."""
        self.admin("POST", "/reset")

    # --- sandboxes ----------------------------------------------------------------------

    def sandbox(self, id: str | None = None, clock: str | None = None,
                credits: float | None = None) -> "MusicSim":
        """A new sandbox on the same server, as a MusicSim of its own: its own demo key,
        tasks, faults, journal and clock (``clock``: its mode)."""
        body: dict[str, Any] = {}
        if id is not None:
            body["id"] = id
        if clock is not None:
            body["clock"] = {"mode": clock}
        if credits is not None:
            body["credits"] = credits
        made = self.server("POST", "/_sim/sandboxes", body)
        return MusicSim(self.url, made["demo_key"], self._token, made["id"])

    def remove(self) -> None:
        """Remove this sandbox and everything in it (the default sandbox cannot be)."""
        if self.sandbox_id is None:
            raise ControlPlaneError("the default sandbox cannot be removed; reset() it")
        self.server("DELETE", f"/_sim/sandboxes/{self.sandbox_id}")

    # --- named state --------------------------------------------------------------------

    def load_state(self, state: "str | os.PathLike[str] | dict[str, Any]",
                   key_suffix: str | None = None) -> dict[str, Any]:
        """Replace this sandbox's state with a state file's (a path, or the document).
        With ``key_suffix`` each key of the file is loaded as ``KEY-SUFFIX`` (keys are
        unique across sandboxes); :meth:`key` then names the key a file's key became."""
        if not isinstance(state, dict):
            with open(state, encoding="utf-8") as handle:
                state = json.load(handle)
        loaded = self.admin("POST", "/state" + _query({"key_suffix": key_suffix}), state)
        self._keys = dict(loaded["keys"])
        return loaded

    def key(self, name: str) -> str:
        """The key a loaded state file's key ``name`` answers as here (itself, unless
        the file was loaded with a suffix, as the plugin does in a shared simulator)."""
        return self._keys.get(name, name)

    def export_state(self, name: str | None = None) -> dict[str, Any]:
        """This sandbox's state as a state file's document."""
        return self.admin("GET", "/state" + _query({"name": name}))

    # --- accounts -----------------------------------------------------------------------

    def account(self, credits: float | None = None, **extra: Any) -> str:
        """A new API key (with ``credits``, or the default grant)."""
        body = {**extra, **({"credits": credits} if credits is not None else {})}
        return self.admin("POST", "/accounts", body)["api_key"]

    def balance(self, api_key: str | None = None) -> float:
        return self.admin("GET", f"/accounts/{api_key or self.api_key}")["credits"]

    def grant(self, api_key: str, credits: float) -> dict[str, Any]:
        """Add credits to a key (negative to withdraw); the account after."""
        return self.admin("POST", f"/accounts/{api_key}/credits", {"delta": credits})

    # --- faults -------------------------------------------------------------------------

    def fault(self, match: dict[str, Any] | None = None, action: dict[str, Any] | None = None,
              **rule: Any) -> str:
        """Add a fault rule (see ``POST /_sim/faults``); its id."""
        return self.admin("POST", "/faults", {"match": match or {}, "action": action or {},
                                              **rule})["id"]

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")

    def scenario(self, name: str, provider: str | None = None) -> Any:
        return self.admin("POST", f"/scenarios/{name}", {"provider": provider} if provider else {})

    # --- what happened ------------------------------------------------------------------

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded requests and answers, oldest first (filters as ``GET /_sim/journal``)."""
        return self._every("/journal", "entries", filters)

    def journal_stats(self, **filters: Any) -> dict[str, Any]:
        return self.admin("GET", "/journal/stats" + _query(filters))

    def tasks(self, **filters: Any) -> list[dict[str, Any]]:
        return self._every("/tasks", "tasks", filters)

    def task(self, task_id: str) -> dict[str, Any]:
        return self.admin("GET", f"/tasks/{task_id}")

    def settle(self, task_id: str, outcome: str = "succeed", reason: str | None = None) -> Any:
        """Finish a task now: ``succeed`` or ``fail`` (with a reason)."""
        body = {"outcome": outcome, **({"reason": reason} if reason else {})}
        return self.admin("POST", f"/tasks/{task_id}/outcome", body)

    def webhooks(self, **filters: Any) -> list[dict[str, Any]]:
        """Every callback delivery attempt the simulator made."""
        return self._every("/webhooks", "attempts", filters)

    def _every(self, path: str, member: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """A list's items, page after page while ``next_cursor`` names another: all of
        them, or the first ``limit`` when the caller gives one."""
        answer = self.admin("GET", path + _query(filters))
        items = answer[member]
        while answer.get("next_cursor") and "limit" not in filters:
            answer = self.admin("GET", path + _query({**filters,
                                                      "cursor": answer["next_cursor"]}))
            items += answer[member]
        return items


def _query(filters: dict[str, Any]) -> str:
    given = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()
             if v is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""
