"""schemathesis's stateful tests over all six specs: sequences of calls that follow the
specs' links (submit → poll → work on the song, account → credits → ledger, …), each
answer held to its spec. tests/test_schemathesis.py fuzzes operations one at a time, and
so never reaches an operation with an id that exists; these runs do.

Links come from the specs (``links`` on responses) and from what schemathesis infers
from the schemas; openaihk's inferred links start only from operations fed random clip
ids (its generate names optional clip fields no operation produces, so schemathesis does
not start from it), so that spec runs on its own links alone.
"""

from __future__ import annotations

import copy

import re

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from conftest import DEMO_KEY, Receiver, Sim, bearer, start_sim
from fuzz_report import budget, tally
from simulator.openapi import load_spec
from simulator.config import RateLimit
from test_schemathesis import SPECS, as_drawn, load

DIALECTS = ("evolink", "acedata", "openaihk", "sunor", "orux")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Simulated time before each call: a song asked for two calls ago is done, one asked for
# by the previous call is not yet, so links to work on songs meet both.
STEP_SECONDS = 60.0
# acedata's requests wait for their songs by default, which a manual clock never lets
# happen: its runs move time fast enough that a song is done as soon as it is asked for.
ACEDATA_CLOCK = {"mode": "scaled", "speed": 20_000.0}
CALLBACKS = ("callback_url", "webhook_url")
WELL_FORMED_URL = re.compile(r"^https?://\S+$")
STATEFUL = budget(examples=12, steps=8, long_examples=100, long_steps=25)


def schema_of(name: str):
    """The spec to walk, drawing valid requests only: a sequence is worth following when
    each step is accepted, and tests/test_schemathesis.py sends the invalid ones."""
    if name == "admin":
        # The stream of changes never ends on its own (tests/test_dashboard_api.py reads it).
        schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec("admin").served)
                                                ).exclude(operation_id_regex="^streamEvents")
    else:
        schema = load(name, light=name in ("acedata", "openaihk"))
    if name == "openaihk":
        schema.config.phases.stateful.inference.algorithms = []
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    schema.config.phases.stateful.generation.update(modes=[GenerationMode.POSITIVE])
    return schema


@pytest.fixture(scope="module")
def dialects_sim():
    """The five dialects, rate limits off, the demo key rich, ids seeded: every scenario
    starts from a reset, so the same calls meet the same state and Hypothesis can replay
    them. Well-formed callback URLs the fuzzer draws are pointed at a loopback receiver
    the control plane allows, so callbacks are delivered and nothing leaves the host."""
    off = RateLimit(0.0, 1.0)
    sim = start_sim(rate_limits={name: off for name in DIALECTS}, default_credits=1e12,
                    seed=20260101)
    receiver = Receiver()
    yield sim, receiver
    receiver.close()
    sim.stop()


@pytest.fixture(scope="module")
def admin_sim():
    """A simulator of its own: the fuzzer adds fault rules and moves the clock."""
    sim = start_sim(default_credits=1e12, seed=20260101)
    yield sim
    sim.stop()


def machine(name: str, sim: Sim, base_url: str, headers: dict[str, str],
            hook: str | None = None):
    section = f"schemathesis stateful: {name}"
    clock = ACEDATA_CLOCK if name == "acedata" else {"mode": "manual"}

    class Links(schema_of(name).as_state_machine()):
        def setup(self) -> None:
            assert sim.admin("POST", "/reset").status_code == 200
            assert sim.admin("PUT", "/clock", json=clock).status_code == 200
            if hook is not None:
                allowed = sim.admin("POST", "/webhooks/allowed", json={"url": hook})
                assert allowed.status_code == 201, allowed.text

        def before_call(self, case) -> None:
            as_drawn(case)
            if hook is not None and isinstance(case.body, dict):
                for field in CALLBACKS:
                    url = case.body.get(field)
                    if isinstance(url, str) and WELL_FORMED_URL.match(url):
                        case.body[field] = hook
            if clock["mode"] == "manual":
                sim.advance(STEP_SECONDS)

        def get_call_kwargs(self, case) -> dict:
            return {"base_url": base_url, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            tally(section, f"{case.operation.label} → {response.status_code}")
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None,
                                   recorder=self.recorder)

    return Links


@pytest.mark.parametrize("name", DIALECTS)
def test_dialect_links(name, dialects_sim):
    sim, receiver = dialects_sim
    key = {"x-api-key": DEMO_KEY} if name == "sunor" else bearer()
    run_state_machine_as_test(machine(name, sim, sim.base(name), key, receiver.url),
                              settings=STATEFUL)


def test_control_plane_links(admin_sim):
    run_state_machine_as_test(machine("admin", admin_sim, admin_sim.url, {}),
                              settings=STATEFUL)
