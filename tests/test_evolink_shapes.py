"""Every shape a task passes through conforms to specs/evolink.yaml: the poll answer at
each state and stage, the failed answer, and each callback payload. schemathesis cannot
reach these on its own, because time only moves when a test moves it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import bearer
from test_lifecycle import SONG, core, poll, step_until, submit

SPEC = yaml.safe_load((Path(__file__).resolve().parent.parent / "specs" / "evolink.yaml").read_text())
REGISTRY = Registry().with_resource("urn:evolink", Resource.from_contents(
    SPEC, default_specification=DRAFT202012))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"urn:evolink#/components/schemas/{name}"},
                                registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


TASK = validator("AudioGenerationResponse")
CALLBACK = validator("TaskCallback")


def conforms(schema: Draft202012Validator, document: dict) -> None:
    errors = [e.message for e in schema.iter_errors(document)]
    assert not errors, errors


def test_poll_answers_conform_at_every_stage(sim):
    task = submit(sim)
    stages = set()
    while True:
        view = poll(sim, task["id"])
        conforms(TASK, view)
        stages.add((view["status"], core(sim, task["id"])["stage"]))
        if view["status"] == "completed":
            break
        sim.advance(2)
    assert {("pending", None), ("processing", "text"), ("processing", "first"),
            ("completed", "complete")} <= stages


@pytest.mark.parametrize("marker", ["[sim:fail]", "[sim:fail:moderation]"])
def test_failed_answer_conforms(sim, marker):
    task = submit(sim, {**SONG, "prompt": marker})
    step_until(sim, task["id"], lambda t: t["status"] == "failed")
    view = poll(sim, task["id"])
    conforms(TASK, view)
    assert view["error"]["message"]


def test_callback_payloads_conform(sim, receiver):
    task = submit(sim, {**SONG, "callback_url": receiver.url})
    step_until(sim, task["id"], lambda t: t["status"] == "succeeded")
    calls = receiver.wait_for(3)
    assert len(calls) == 3
    for payload in calls:
        conforms(CALLBACK, payload)


def test_submit_answer_conforms(sim):
    response = requests.post(f"{sim.base()}/v1/audios/generations", headers=bearer(),
                             json={"model": "suno-v5", "prompt": "shape"}, timeout=10)
    conforms(TASK, response.json())
