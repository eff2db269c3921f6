"""Response schemas only get stricter: no spec drops a field its answers are documented
to always carry (tests/answer_baseline.json; see tests/answer_baseline.py).

After adding required fields, regenerate the baseline and commit it:

    .venv/bin/python tests/answer_baseline.py
"""

from __future__ import annotations

import copy

from answer_baseline import COMMAND, compare, load_baseline, required_fields


def test_no_required_answer_field_is_removed_and_the_baseline_is_current():
    lost, gained = compare(load_baseline(), required_fields())
    assert not lost, (f"{len(lost)} required answer field(s) were removed from specs/; "
                      "clients rely on them, restore them:\n  " + "\n  ".join(lost))
    assert not gained, (f"{len(gained)} required answer field(s) were added; regenerate the "
                        f"baseline with `{COMMAND}` and commit it:\n  " + "\n  ".join(gained))


def test_the_baseline_covers_every_spec_operation_and_branch():
    current = required_fields()
    assert sorted(current) == ["acedata", "admin", "evolink", "openaihk", "orux", "sunor"]
    task = current["evolink"]["GET /v1/tasks/{task_id}"]
    assert {"id", "status"} <= set(task["200"]["$"])
    assert "title" in task["200"]["$.result_data[]"]  # array items by path
    assert task["404"]["$.error"] == ["code", "message", "type"]  # $ref to a response
    audios = current["acedata"]["POST /suno/audios"]["200"]
    assert "$|oneOf:AudiosResponse.data[]" in audios and "$|oneOf:TaskAccepted" in audios
    assert "GET /_sim/health" in current["admin"]


def test_a_removal_is_caught_and_an_addition_asks_for_a_new_baseline():
    baseline = required_fields()
    fewer = copy.deepcopy(baseline)
    fewer["evolink"]["GET /v1/tasks/{task_id}"]["200"]["$"].remove("status")
    del fewer["sunor"]["POST /api/v1/task"]
    lost, gained = compare(baseline, fewer)
    assert "evolink GET /v1/tasks/{task_id} 200 $: status" in lost
    assert any(line.startswith("sunor POST /api/v1/task 202 ") for line in lost)
    assert gained == []
    lost, gained = compare(fewer, baseline)
    assert lost == [] and "evolink GET /v1/tasks/{task_id} 200 $: status" in gained
