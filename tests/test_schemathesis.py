"""schemathesis over every spec, against a running simulator: no server errors, and
every response conforms to the spec (status, headers, content type, schema)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from simulator.config import RateLimit

from conftest import bearer, start_sim

SPECS = Path(__file__).resolve().parent.parent / "specs"
evolink = schemathesis.openapi.from_path(SPECS / "evolink.yaml")
admin = schemathesis.openapi.from_path(SPECS / "admin.yaml")
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fuzz_sim():
    # Manual clock and no rate limit: generated callback URLs are never called (time
    # does not move), and the fuzzer's request rate is not what is under test.
    sim = start_sim(rate_limits={"evolink": RateLimit(0.0, 1.0)}, default_credits=1e9)
    yield sim
    sim.stop()


@evolink.parametrize()
@FUZZ
def test_evolink_spec(case, fuzz_sim):
    case.call_and_validate(base_url=fuzz_sim.base(), headers=bearer())


@admin.parametrize()
@FUZZ
def test_admin_spec(case, fuzz_sim):
    case.call_and_validate(base_url=fuzz_sim.url)
