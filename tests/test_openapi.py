"""The spec's checks as the edge and the control plane use them, through the Python API."""

from __future__ import annotations

from simulator.openapi import load_spec


def test_a_parameter_whose_schema_is_a_reference_is_checked_against_what_it_names():
    """``/_sim/tasks?status=`` takes its schema from ``#/components/schemas/TaskStatus``:
    the check compiles, takes the states that schema lists and refuses anything else."""
    check = load_spec("admin").parameter_check("/_sim/tasks", "get", "query")

    violation, typed = check({"status": "succeeded"})
    assert violation is None and typed["status"] == "succeeded"

    violation, _ = check({"status": "finished"})
    assert violation is not None
    assert (violation.param, violation.keyword) == ("status", "enum")
    assert "succeeded" in violation.message
