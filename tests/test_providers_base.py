"""What every dialect shares: a JSON null for an optional field means "not given", in all
five, and a wrong type is named as one."""

from __future__ import annotations

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import DEMO_KEY, Sim, bearer, start_sim
from simulator.dialects import DIALECTS

SUNOR_KEY = {"x-api-key": DEMO_KEY}

# One valid request per dialect, every optional field it lists sent as null.
WITH_NULLS = {
    "evolink": ("/v1/audios/generations", bearer(), {
        "model": "suno-v4.5", "prompt": "A cheerful song", "callback_url": None,
        "negative_tags": None, "vocal_gender": None, "style_weight": None}),
    "acedata": ("/suno/audios", bearer(), {
        "action": "generate", "prompt": "A cheerful song", "callback_url": None,
        "style": None, "title": None, "model": None, "async": True}),
    "openaihk": ("/sunoapi/generate", bearer(), {
        "gpt_description_prompt": "A cheerful song", "mv": "chirp-v4",
        "continue_clip_id": None, "continue_at": None, "infill_start_s": None,
        "infill_end_s": None, "make_instrumental": None}),
    "sunor": ("/api/v1/task", SUNOR_KEY, {
        "model": "suno", "task_type": "music",
        "input": {"gpt_description_prompt": "A cheerful song", "make_instrumental": None,
                  "negative_tags": None}}),
    "orux": ("/api/v1/tasks", bearer(), {
        "model": "suno-v5", "prompt": "A cheerful song", "lyrics": None, "webhook_url": None,
        "parent_task_id": None, "duration": None}),
}


@pytest.mark.parametrize("provider", sorted(WITH_NULLS))
def test_null_optional_fields_are_taken_as_not_given(sim: Sim, provider: str):
    path, headers, body = WITH_NULLS[provider]
    response = requests.post(sim.base(provider) + path, json=body, headers=headers, timeout=30)
    assert response.status_code in (200, 201, 202), response.text
    tasks = sim.admin("GET", "/tasks", params={"provider": provider}).json()["tasks"]
    assert len(tasks) == 1
    params = tasks[0]["params"]
    nested = params.get("input", {})
    assert None not in params.values() and None not in nested.values(), params


@pytest.mark.parametrize("provider", sorted(WITH_NULLS))
def test_a_null_required_field_is_missing(sim: Sim, provider: str):
    path, headers, body = WITH_NULLS[provider]
    field = {"evolink": "model", "acedata": "prompt", "openaihk": "gpt_description_prompt",
             "sunor": "task_type", "orux": "model"}[provider]
    response = requests.post(sim.base(provider) + path, json={**body, field: None},
                             headers=headers, timeout=30)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


def test_null_inside_an_array_is_still_a_wrong_type(sim: Sim):
    response = requests.post(sim.base("acedata") + "/suno/audios", headers=bearer(), json={
        "action": "mashup", "mashup_audio_ids": ["a-song", None]}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "mashup_audio_ids.1 must be a string"


@pytest.mark.parametrize("provider, path, headers, body, param", [
    ("evolink", "/v1/audios/generations", bearer(),
     {"model": "suno-v4.5", "prompt": 42}, "prompt"),
    ("sunor", "/api/v1/task", SUNOR_KEY,
     {"model": "suno", "task_type": "music", "input": {"gpt_description_prompt": ["x"]}},
     "input.gpt_description_prompt"),
    ("orux", "/api/v1/tasks", bearer(), {"model": "suno-v5", "prompt": {"a": 1}}, "prompt"),
])
def test_a_wrong_type_names_the_type_expected(sim: Sim, provider, path, headers, body, param):
    response = requests.post(sim.base(provider) + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert f"{param} must be a string" in response.text


# -- one shape, bound to the spec ----------------------------------------------------------

def spec_operations(dialect: str) -> set[tuple[str, str]]:
    from simulator.openapi import load_spec

    return {(method.upper(), path)
            for path, operations in load_spec(dialect).document["paths"].items()
            for method in operations if method in ("get", "post", "put", "patch", "delete")}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_route_table_is_the_specs_operations(dialect):
    from simulator.app import build_app
    from simulator.config import load

    app = build_app(load(env={}, providers=(dialect, "orux") if dialect != "orux"
                         else ("orux", "sunor")))
    prefix = f"/{dialect}"
    served = {(route.method, route.resource.canonical[len(prefix):])
              for route in app.router.routes()
              if route.method != "HEAD" and route.resource is not None
              and route.resource.canonical.startswith(prefix + "/")}
    assert served == spec_operations(dialect)


def test_every_list_of_dialects_is_the_registry():
    import tomllib
    from pathlib import Path

    from conformance.dialects import DIALECTS as CATALOGS, driver
    from simulator.config import PROVIDERS
    from simulator.dialects import DIALECTS
    from simulator.openapi import spec_ids
    from simulator.providers import REGISTRY

    assert tuple(REGISTRY) == DIALECTS == PROVIDERS == CATALOGS
    assert set(WITH_NULLS) == set(DIALECTS)
    assert set(spec_ids()) == set(DIALECTS) | {"admin"}
    prices = tomllib.loads((Path(__file__).parent.parent / "fixtures" / "prices.toml")
                           .read_text(encoding="utf-8"))
    assert set(DIALECTS) <= set(prices)
    for dialect in DIALECTS:
        assert REGISTRY[dialect].id == dialect and driver(dialect).provider == dialect


def test_every_dialect_is_a_package_of_the_same_shape():
    from pathlib import Path

    from simulator.dialects import DIALECTS

    root = Path(__file__).parent.parent / "simulator" / "providers"
    for dialect in DIALECTS:
        modules = {p.name for p in (root / dialect).glob("*.py")}
        assert modules == {"__init__.py", "provider.py", "planner.py", "render.py"}, dialect


# The same request shape in two variants, so the answers after a reset can be told apart.
POLLED = {
    "evolink": ("/v1/audios/generations", "/v1/tasks/{id}", bearer(),
                lambda model: {"model": model, "prompt": "A cheerful song"},
                ("suno-v4.5", "suno-v5"), lambda answer: answer["id"],
                lambda answer: answer["model"]),
    "sunor": ("/api/v1/task", "/api/v1/task/{id}", SUNOR_KEY,
              lambda model: {"model": model, "task_type": "music",
                             "input": {"prompt": "A cheerful song"} if model == "udio"
                             else {"gpt_description_prompt": "A cheerful song"}},
              ("suno", "udio"), lambda answer: answer["data"]["task_id"],
              lambda answer: answer["data"]["model"]),
}


@pytest.mark.parametrize("provider", sorted(POLLED))
def test_a_poll_answers_the_task_as_it_is_now(provider: str):
    """Polls answer each change to a task, and a seeded run that hands out the same task
    id again after a reset answers the new task, never the one before it."""
    submit, poll, headers, body, models, task_id, model_of = POLLED[provider]
    sim = start_sim(seed=11)
    try:
        def submitted(model: str) -> str:
            made = requests.post(sim.base(provider) + submit, json=body(model), headers=headers,
                                 timeout=30)
            assert made.status_code in (200, 202), made.text
            return task_id(made.json())

        def polled(tid: str) -> dict:
            answer = requests.get(sim.base(provider) + poll.format(id=tid), headers=headers,
                                  timeout=30)
            assert answer.status_code == 200, answer.text
            return answer.json()

        first = submitted(models[0])
        assert model_of(polled(first)) == models[0]
        assert sim.admin("POST", "/reset").status_code == 200
        again = submitted(models[1])
        assert again == first
        assert model_of(polled(again)) == models[1]

        seen = [polled(again)]
        for seconds in (5, 10, 300):
            sim.advance(seconds)
            seen.append(polled(again))
        assert len({repr(answer) for answer in seen}) == len(seen)  # every poll moved on
    finally:
        sim.stop()


def _parameters():
    from simulator.openapi import load_spec
    found = []
    for sid in DIALECTS:  # the specs whose routes check their parameters
        spec = load_spec(sid)
        for path, operations in spec.document["paths"].items():
            for method in operations:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                for parameter in spec.parameters(path, method):
                    if parameter.get("in") in ("path", "query"):
                        found.append((spec, path, method, parameter))
    return found


PARAMETERS = _parameters()
TRICKY = "aZ09 ,-_.:/\t\n\x0b\x1c\u00a0\u2028é٣"


# A final newline: Python's $ would take it, JSON Schema's does not.
EVOLINK_TASK_ID = next(c for c in PARAMETERS if c[0].id == "evolink" and c[3]["name"] == "task_id")


@settings(max_examples=400, deadline=None)
@example(choice=EVOLINK_TASK_ID, raw="task-unified-0-00000000\n")
@given(choice=st.sampled_from(PARAMETERS), raw=st.one_of(
    st.text(TRICKY, max_size=12), st.from_regex(r"task-unified-[0-9]{1,3}-[a-z0-9]{8}\n?"),
    st.integers(-20000, 20000).map(str), st.floats(allow_nan=True).map(str),
    st.sampled_from(["true", "false", "", "running", "succeeded"])))
def test_every_parameter_check_gives_the_schema_validators_verdict(choice, raw):
    """Parameters are checked on every request without always calling the schema
    validator; whatever the shortcut, the verdict is the validator's."""
    import jsonschema_rs
    from simulator.openapi import ParameterCheck
    from simulator.patterns import Validator
    from simulator.pointers import resolved
    spec, path, method, parameter = choice
    schema = resolved(spec.document, parameter.get("schema", {}))
    compiled = spec.parameter_check(path, method, parameter["in"])
    alone = ParameterCheck(tuple(p for p in compiled.parameters if p.name == parameter["name"]))
    violation, _ = alone({parameter["name"]: raw})
    converted = raw
    kind = schema.get("type")
    try:
        converted = {"integer": int, "number": float}[kind](raw) if kind in ("integer", "number") \
            else {"true": True, "false": False}[raw] if kind == "boolean" else raw
    except (KeyError, ValueError):
        pass
    # A value is refused when both the fast validator and the one that words the
    # refusal (patterns read as ECMA-262, as the fast one reads them) find fault with it.
    expected = jsonschema_rs.validator_for(schema).is_valid(converted) or \
        Validator(schema).is_valid(converted)
    assert (violation is None) == expected, (spec.id, path, parameter["name"], raw)
