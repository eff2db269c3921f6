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
    case.call_and_validate(base_url=provider_sim.base(), headers=bearer())


@admin.parametrize()
@FUZZ
def test_admin_spec(case, admin_sim):
    case.call_and_validate(base_url=admin_sim.url)
