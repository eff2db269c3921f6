"""schemathesis over every spec, against a running simulator: no server errors, and
every response conforms to the spec (status, headers, content type, schema)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
import schemathesis
from schemathesis.specs.openapi.checks import (ignored_auth, missing_required_header,
                                               positive_data_acceptance)
from hypothesis import HealthCheck, assume, settings

from simulator.config import RateLimit
from simulator.nullable import allow_null_optionals
from simulator.openapi import load_spec

from conftest import Receiver, bearer, start_sim

SPECS = Path(__file__).resolve().parent.parent / "specs"


def load(name: str, light: bool = False):
    """A dialect's spec to fuzz. Like most servers, the dialects ignore query parameters
    an operation does not define, and the tests send their own Authorization header in
    place of a mutated one; a case whose faults were an extra parameter and the header
    would reach the provider valid and be reported as accepted negative data. The
    document is the one the simulator serves, with what its extensions imply (optional
    members may be null); ``light`` takes the form of it that test-data generation can
    expand for the largest bodies (see ``allow_null_optionals``), for dialects whose
    fuzzing leaves out the positive-data check anyway."""
    if light:
        document = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
        allow_null_optionals(document, conditions=False)
    else:
        document = copy.deepcopy(load_spec(name).served)
    schema = schemathesis.openapi.from_dict(document)
    schema.config.generation.update(allow_extra_parameters=False)
    return schema


def as_drawn(case) -> None:
    """Leave out a case whose request does not mean on the wire what the fuzzer drew.
    One carrying a magic value: ``[sim:504]`` makes a deliberate 504, and hypothesis
    draws string constants from the code under test, so a generated body can carry one.
    Steering has its own tests; here it would read as a server error."""
    sent = json.dumps([case.body, case.query, case.path_parameters], default=str)
    assume("[sim:" not in sent)
    # A query parameter drawn as an object goes out as its members (form style,
    # exploded): {"offset": 9} in place of an integer offset is sent as offset=9, a
    # valid request the check would read as accepted negative data.
    assume(not any(isinstance(value, dict) for value in (case.query or {}).values()))


evolink = load("evolink")
# The dashboard's stream of changes never ends on its own, so no drawn call of it would
# return; tests/test_dashboard_api.py reads it.
admin = schemathesis.openapi.from_dict(copy.deepcopy(load_spec("admin").served)).exclude(
    operation_id_regex="^streamEvents")
acedata = load("acedata", light=True)
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


def fuzz_target():
    # Manual clock and no rate limit: the fuzzer's request rate is not what is under test.
    return start_sim(rate_limits={"evolink": RateLimit(0.0, 1.0)}, default_credits=1e9)


@pytest.fixture(scope="module")
def provider_sim():
    # Its clock never moves, so the callback URLs the fuzzer makes up are never called.
    sim = fuzz_target()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def admin_sim():
    # A simulator of its own: the fuzzer advances this one's clock.
    sim = fuzz_target()
    yield sim
    sim.stop()


@evolink.parametrize()
@FUZZ
def test_evolink_spec(case, provider_sim):
    as_drawn(case)
    case.call_and_validate(base_url=provider_sim.base(), headers=bearer())


@pytest.fixture(scope="module")
def acedata_sim():
    # A fast clock, so that requests which wait for their songs (acedata's default) come
    # back. Well-formed callback URLs are pointed at a local receiver, so that callbacks
    # are really delivered and nothing leaves the host.
    sim = start_sim(rate_limits={"acedata": RateLimit(0.0, 1.0)}, default_credits=1e9,
                    clock="scaled", speed=5000.0, allow_local_callbacks=True)
    receiver = Receiver()
    yield sim, receiver
    receiver.close()
    sim.stop()


WELL_FORMED_URL = re.compile(r"^https?://[^\s]+$")


@acedata.parametrize()
@FUZZ
def test_acedata_spec(case, acedata_sim):
    as_drawn(case)
    acedata_sim, receiver = acedata_sim
    body = case.body if isinstance(case.body, dict) else {}
    if isinstance(body.get("callback_url"), str) and WELL_FORMED_URL.match(body["callback_url"]):
        body["callback_url"] = receiver.url
    # Three checks assume what this provider documents otherwise: a schema-valid body may
    # name songs, uploads or personas that do not exist (400 bad_request), and a request
    # without a token is 400 no_token, not 401 (tests/test_acedata_api.py covers both).
    case.call_and_validate(base_url=acedata_sim.base("acedata"), headers=bearer(),
                           excluded_checks=[positive_data_acceptance, missing_required_header,
                                            ignored_auth])


@admin.parametrize()
@FUZZ
def test_admin_spec(case, admin_sim):
    # A page cursor is opaque: only one the list handed out is valid, so a drawn one is
    # refused (400 naming `cursor`, tests/test_paging.py) though its schema is a string.
    drawn_cursor = "cursor" in (case.query or {})
    # A state file's parts name each other (a task's key is an account of the file, a
    # recipe node an earlier node, balances add up), which no schema can say: a drawn
    # file is refused (400 naming the member, tests/test_state_fixtures.py) though its
    # schema is met.
    drawn_state = case.operation.definition.raw.get("operationId") == "loadState"
    case.call_and_validate(base_url=admin_sim.url,
                           excluded_checks=[positive_data_acceptance]
                           if drawn_cursor or drawn_state else [])


openaihk = load("openaihk", light=True)


@pytest.fixture(scope="module")
def openaihk_sim():
    sim = start_sim(rate_limits={"openaihk": RateLimit(0.0, 1.0)}, default_credits=1e9)
    yield sim
    sim.stop()


@openaihk.parametrize()
@FUZZ
def test_openaihk_spec(case, openaihk_sim):
    as_drawn(case)
    # A schema-valid body may still name clips or personas that do not exist, which the
    # provider refuses (404 clip_not_found); tests/test_openaihk_api.py covers that.
    case.call_and_validate(base_url=openaihk_sim.base("openaihk"), headers=bearer(),
                           excluded_checks=[positive_data_acceptance])


sunor = load("sunor")
orux = load("orux")


@pytest.fixture(scope="module")
def sunor_orux_sim():
    off = RateLimit(0.0, 1.0)
    sim = start_sim(rate_limits={"sunor": off, "orux": off}, default_credits=1e9)
    yield sim
    sim.stop()


@sunor.parametrize()
@FUZZ
def test_sunor_spec(case, sunor_orux_sim):
    as_drawn(case)
    # A schema-valid body may name a clip that does not exist (continue_clip_id, clip_id),
    # which the provider refuses with 400; tests/test_sunor.py covers that.
    case.call_and_validate(base_url=sunor_orux_sim.base("sunor"),
                           headers={"x-api-key": "sk-musicsim-demo"},
                           excluded_checks=[positive_data_acceptance])


@orux.parametrize()
@FUZZ
def test_orux_spec(case, sunor_orux_sim):
    as_drawn(case)
    # A schema-valid chained action may name a parent task that does not exist (404);
    # tests/test_orux.py covers that.
    case.call_and_validate(base_url=sunor_orux_sim.base("orux"), headers=bearer(),
                           excluded_checks=[positive_data_acceptance])
