"""Named state: what a test starts from, written down as one JSON document and read back.

A state file holds the accounts with their balances, the finished tasks with everything
the dialects render from (their clips' media recipes included, so a song sounds the same
after loading: media is never stored, only how it is made), the personas, and the fault
rules still in force. Uploads are tasks with clips of their own, so they come along.
Work still queued or running is left out: it cannot be carried across without its
timers, and its held credits go back to available. The journal, webhook record, rate
limits and allowed callback URLs are not state a test starts from and are left out too.

Loading replaces: the engine is reset, then the document is written through the store.
The document brings its moment: the clock is put at the document's ``clock.now``,
earlier or later, so that a song's age, and whether its results have lapsed, read as
when it was saved, and the same file always gives the same answers.

The document's shape is ``components/schemas/State`` in specs/admin.yaml, checked by the
control plane before it gets here; what a schema cannot say (keys and ids named once,
references that hold, balances that add up, rules the fault engine takes) is checked
here, all before anything is reset, so a bad file changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Iterable

from .faults import FaultError, Faults
from .lifecycle import PROFILES
from .models import TERMINAL, Account, Clip, Persona, Task
from .recipes import RecipeError, dump_recipe, load_recipe

if TYPE_CHECKING:
    from .engine import Engine

STATE_FORMAT = 1
# How far available + held + spent may stray from granted before the books are refused:
# float dust from many movements, not credits.
BALANCE_SLACK = 1e-6


class StateError(ValueError):
    """A state document refused; ``param`` names the member at fault (``tasks.3.id``)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class KeyTaken(StateError):
    """A key of the document belongs to another sandbox: keys are unique across them."""


# -- export ------------------------------------------------------------------------------
async def export_state(engine: Engine, name: str | None = None,
                       keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The engine's state as a document; only ``keys``' accounts, tasks and personas when
    given (a file meant for a sandbox should not carry another sandbox's keys)."""
    now = engine.now()
    accounts = await engine.accounts()
    if keys is not None:
        wanted = set(keys)
        accounts = [account for account in accounts if account.api_key in wanted]
    chosen = {account.api_key for account in accounts}
    tasks = [task for task in await engine.tasks()
             if task.terminal and task.api_key in chosen]
    personas = [persona for account in accounts
                for persona in await engine.personas(account.api_key)]
    document: dict[str, Any] = {"musicsim_state": STATE_FORMAT}
    if name is not None:
        document["name"] = name
    document.update(
        exported_at=now, clock={"now": now},
        accounts=[_account_out(account) for account in accounts],
        tasks=[_task_out(task) for task in tasks],
        personas=[_persona_out(persona) for persona in personas],
        faults=[_rule_out(rule) for rule in engine.faults.rules() if not rule.spent])
    return document


def _account_out(account: Account) -> dict[str, Any]:
    return {"api_key": account.api_key, "available": account.available,
            "held": account.held, "spent": account.spent, "granted": account.granted,
            "models": account.models, "created_at": account.created_at,
            "webhook_secret": account.webhook_secret}


def _task_out(task: Task) -> dict[str, Any]:
    return {"id": task.id, "provider": task.provider, "kind": task.kind,
            "api_key": task.api_key, "status": task.status, "stage": task.stage,
            "error": task.error, "params": task.params, "meta": task.meta,
            "created_at": task.created_at, "started_at": task.started_at,
            "finished_at": task.finished_at, "eta": task.eta,
            "expires_at": task.expires_at, "retention": task.retention, "cost": task.cost,
            "callback_url": task.callback_url,
            "history": [[at, event] for at, event in task.history],
            "plan": [[offset, event] for offset, event in task.plan],
            "clips": [_clip_out(clip) for clip in task.clips]}


def _clip_out(clip: Clip) -> dict[str, Any]:
    return {"id": clip.id, "seed": clip.seed, "duration": clip.duration,
            "instrumental": clip.instrumental, "description": clip.description,
            "text_seed": clip.text_seed, "given_title": clip.given_title,
            "given_tags": clip.given_tags, "given_lyrics": clip.given_lyrics,
            "derived": None if clip.derived is None else dump_recipe(clip.derived),
            "lineage": clip.lineage, "upstream_expired": clip.upstream_expired}


def _persona_out(persona: Persona) -> dict[str, Any]:
    return {"id": persona.id, "api_key": persona.api_key, "name": persona.name,
            "source_clip_id": persona.source_clip_id, "created_at": persona.created_at,
            "description": persona.description, "kind": persona.kind,
            "vox_clip_id": persona.vox_clip_id}


def _rule_out(rule) -> dict[str, Any]:
    """A rule as ``POST /_sim/faults`` takes it, limited to the times it has left."""
    out: dict[str, Any] = {"match": rule.match} if rule.match else {}
    out["action"] = rule.action
    if rule.times is not None:
        out["times"] = rule.times - rule.hits
    if rule.probability is not None:
        out["probability"] = rule.probability
    return out


# -- load --------------------------------------------------------------------------------
async def load_state(engine: Engine, document: dict[str, Any],
                     key_suffix: str | None = None) -> dict[str, Any]:
    """Replace the engine's state with the document's (see the module docstring); the
    counts of what was loaded, and which key each of the file's was loaded as. Raises
    StateError (KeyTaken for a key another sandbox has) before changing anything.

    ``key_suffix`` loads each key as ``KEY-SUFFIX``: keys are unique across sandboxes,
    so one file loaded into many sandboxes at once needs a key of its own in each."""
    accounts, tasks, personas, rules = _read(document)
    keys = {account.api_key: account.api_key for account in accounts}
    if key_suffix is not None:
        keys = {key: f"{key}-{key_suffix}" for key in keys}
        _rekeyed(keys, accounts, tasks, personas, rules)
    for index, account in enumerate(accounts):
        owner = await engine.keys.owner_of(account.api_key)
        if owner is not None and owner != engine.sandbox:
            raise KeyTaken(f"key {account.api_key!r} belongs to sandbox {owner!r}; "
                           f"keys are unique across sandboxes", f"accounts.{index}.api_key")
    salt = _digest(document)
    engine.clock.jump_to(document["clock"]["now"])
    has_demo = any(account.api_key == engine.demo_key for account in accounts)
    await engine.reset(defaults=not has_demo)
    engine.ids.branch(salt)
    engine.faults.clear()  # the start-up scenario's rules, restored by the reset
    now = engine.now()
    for index, account in enumerate(accounts):
        if not await engine.keys.claim(account.api_key, engine.sandbox):
            await engine.reset()  # taken meanwhile: leave a clean slate, not half a state
            raise KeyTaken(f"key {account.api_key!r} was taken by another sandbox while "
                           f"the state loaded", f"accounts.{index}.api_key")
        await engine.store.open_account(account, now)
    for task in tasks:
        await engine.store.put_task(task)
    for persona in personas:
        await engine.store.put_persona(persona)
    for spec in rules:
        engine.faults.add(spec)
    # Results past their retention, and a cap on finished tasks, apply to these as to
    # tasks that finished here.
    for task in sorted(tasks, key=lambda task: task.finished_at or 0.0):
        await engine.retention.ended(task)
    return {"accounts": len(accounts), "tasks": len(tasks), "personas": len(personas),
            "faults": len(rules), "keys": keys}


def _rekeyed(keys: dict[str, str], accounts: list[Account], tasks: list[Task],
             personas: list[Persona], rules: list[dict[str, Any]]) -> None:
    """Everything of the file moved onto the new keys; the rules, copied, match them."""
    for owned in (*accounts, *tasks, *personas):
        owned.api_key = keys[owned.api_key]
    for index, rule in enumerate(rules):
        match = rule.get("match") or {}
        if match.get("api_key") in keys:
            rules[index] = {**rule, "match": {**match, "api_key": keys[match["api_key"]]}}


def _read(document: dict[str, Any]
          ) -> tuple[list[Account], list[Task], list[Persona], list[dict[str, Any]]]:
    """Everything the document holds, built and cross-checked; StateError if it fails."""
    if document.get("musicsim_state") != STATE_FORMAT:
        raise StateError(f"musicsim_state must be {STATE_FORMAT} (this simulator's state "
                         f"format)", "musicsim_state")
    section = "accounts"
    try:
        accounts = [_account_in(data, f"accounts.{i}")
                    for i, data in enumerate(document["accounts"])]
        _unique((a.api_key for a in accounts), "accounts", "api_key")
        keys = {account.api_key for account in accounts}
        section = "tasks"
        tasks = [_task_in(data, f"tasks.{i}", keys) for i, data in enumerate(document["tasks"])]
        _unique((t.id for t in tasks), "tasks", "id")
        _unique_clips(tasks)
        section = "personas"
        personas = [_persona_in(data, f"personas.{i}", keys)
                    for i, data in enumerate(document["personas"])]
        _unique((p.id for p in personas), "personas", "id")
        section = "faults"
        rules = list(document["faults"])
        scratch = Faults()
        for index, spec in enumerate(rules):
            try:
                scratch.add(spec)
            except FaultError as exc:
                raise StateError(str(exc), f"faults.{index}" + (f".{exc.param}"
                                                                if exc.param else "")) from None
    except StateError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise StateError(f"{section} does not fit the State schema of specs/admin.yaml",
                         section) from None
    return accounts, tasks, personas, rules


def _account_in(data: dict[str, Any], where: str) -> Account:
    available, held, spent, granted = (data[name] for name in
                                       ("available", "held", "spent", "granted"))
    if abs(available + held + spent - granted) > BALANCE_SLACK * max(1.0, abs(granted)):
        raise StateError(f"{where}.granted must equal available + held + spent "
                         f"({available + held + spent:g}), not {granted:g}",
                         f"{where}.granted")
    # What was held was for work not carried over: it is available again.
    return Account(data["api_key"], available + held, 0.0, spent, granted,
                   data["models"], data["created_at"], data["webhook_secret"])


def _task_in(data: dict[str, Any], where: str, keys: set[str]) -> Task:
    if data["api_key"] not in keys:
        raise StateError(f"{where}.api_key names no account of the state", f"{where}.api_key")
    if data["kind"] not in PROFILES:
        raise StateError(f"{where}.kind must be one of {', '.join(PROFILES)}", f"{where}.kind")
    if data["status"] not in TERMINAL:
        raise StateError(f"{where}.status must be succeeded or failed: only finished tasks "
                         f"are kept in a state", f"{where}.status")
    plan = tuple((offset, event) for offset, event in data["plan"])
    return Task(data["id"], data["provider"], data["kind"], data["api_key"], data["params"],
                data["created_at"], cost=data["cost"], status=data["status"],
                stage=data["stage"], started_at=data["started_at"],
                finished_at=data["finished_at"], eta=data["eta"],
                clips=[_clip_in(clip, f"{where}.clips.{i}")
                       for i, clip in enumerate(data["clips"])],
                error=data["error"], callback_url=data["callback_url"],
                history=[(at, event) for at, event in data["history"]], plan=plan,
                step=len(plan),  # nothing of the plan is left to happen
                meta=data["meta"], retention=data["retention"], expires_at=data["expires_at"])


def _clip_in(data: dict[str, Any], where: str) -> Clip:
    derived = None
    if data["derived"] is not None:
        try:
            derived = load_recipe(data["derived"])
        except RecipeError as exc:
            raise StateError(str(exc), f"{where}.derived.{exc.param}") from None
    return Clip(data["id"], data["seed"], data["duration"], data["instrumental"],
                data["description"], data["text_seed"], data["given_title"],
                data["given_tags"], data["given_lyrics"], derived, data["lineage"],
                data["upstream_expired"])


def _persona_in(data: dict[str, Any], where: str, keys: set[str]) -> Persona:
    if data["api_key"] not in keys:
        raise StateError(f"{where}.api_key names no account of the state", f"{where}.api_key")
    return Persona(data["id"], data["api_key"], data["name"], data["source_clip_id"],
                   data["created_at"], data["description"], data["kind"],
                   data["vox_clip_id"])


def _unique(values: Iterable[str], section: str, member: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise StateError(f"{section}.{index}.{member} {value!r} is given twice",
                             f"{section}.{index}.{member}")
        seen.add(value)


def _unique_clips(tasks: list[Task]) -> None:
    """A clip id names one clip, whichever task made it: links and actions find it by id."""
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        for number, clip in enumerate(task.clips):
            if clip.id in seen:
                where = f"tasks.{index}.clips.{number}.id"
                raise StateError(f"{where} {clip.id!r} is given twice", where)
            seen.add(clip.id)


def _digest(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
