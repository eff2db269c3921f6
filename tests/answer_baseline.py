"""The required fields of every JSON answer the specs document, and the committed floor
they may only rise from (tests/answer_baseline.json, held by tests/test_answer_baseline.py).

Clients rely on what a spec says an answer always carries; a field that stops being
required is a field a client may suddenly not get. So the baseline records, for each
spec (the five dialects and admin.yaml), each operation and each documented status, the
``required`` lists of the status's JSON schema: $refs followed, allOf merged into the
object it describes, each oneOf/anyOf branch (and each if/then/else arm) on its own,
nested objects and array items by JSON path::

    {"evolink": {"GET /v1/tasks/{task_id}": {"200": {"$": ["id", ...],
                                                     "$.result_data[]": [...]}}}}

A path segment ``|oneOf:Name`` is the branch that is ``$ref: …/Name`` (its index when
inline). Regenerate after adding required fields, and commit the result:

    .venv/bin/python tests/answer_baseline.py

It refuses to write a baseline that loses a required field.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from simulator.pointers import resolved

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BASELINE = Path(__file__).resolve().parent / "answer_baseline.json"
COMMAND = ".venv/bin/python tests/answer_baseline.py"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

Required = dict[str, dict[str, dict[str, dict[str, list[str]]]]]


def required_fields() -> Required:
    """Every spec's required answer fields, as the module docstring describes."""
    found: Required = {}
    for path in sorted(SPECS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[path.stem] = _of_spec(document)
    return found


def _of_spec(document: dict[str, Any]) -> dict[str, dict[str, dict[str, list[str]]]]:
    operations: dict[str, dict[str, dict[str, list[str]]]] = {}
    for template, items in document.get("paths", {}).items():
        for method, operation in items.items():
            if method not in METHODS:
                continue
            statuses: dict[str, dict[str, list[str]]] = {}
            for code, response in operation.get("responses", {}).items():
                content = resolved(document, response).get("content") or {}
                kind = next((k for k in content if "json" in k and "ndjson" not in k), None)
                fields: dict[str, set[str]] = {}
                if kind is not None and "schema" in content[kind]:
                    _walk(document, content[kind]["schema"], "$", fields, ())
                statuses[str(code)] = {p: sorted(names) for p, names in sorted(fields.items())
                                       if names}
            operations[f"{method.upper()} {template}"] = statuses
    return operations


def _walk(document: dict[str, Any], schema: Any, path: str, fields: dict[str, set[str]],
          refs: tuple[str, ...]) -> None:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        if schema["$ref"] in refs:
            return  # a recursive schema: its fields are recorded where it first appears
        refs = (*refs, schema["$ref"])
        _walk(document, resolved(document, schema), path, fields, refs)
    fields.setdefault(path, set()).update(schema.get("required", ()))
    for name, member in (schema.get("properties") or {}).items():
        _walk(document, member, f"{path}.{name}", fields, refs)
    _walk(document, schema.get("items"), f"{path}[]", fields, refs)
    for index, item in enumerate(schema.get("prefixItems") or ()):
        _walk(document, item, f"{path}[{index}]", fields, refs)
    _walk(document, schema.get("additionalProperties"), f"{path}.*", fields, refs)
    for branch in schema.get("allOf") or ():
        _walk(document, branch, path, fields, refs)
    for key in ("oneOf", "anyOf"):
        for index, branch in enumerate(schema.get(key) or ()):
            _walk(document, branch, f"{path}|{key}:{_branch_name(branch, index)}", fields, refs)
    for key in ("then", "else"):
        _walk(document, schema.get(key), f"{path}|{key}", fields, refs)


def _branch_name(branch: Any, index: int) -> str:
    if isinstance(branch, dict) and "$ref" in branch:
        return branch["$ref"].rsplit("/", 1)[-1]
    return str(index)


def compare(baseline: Required, current: Required) -> tuple[list[str], list[str]]:
    """What the current specs lost against the baseline, and what they gained, one line
    per field: ``spec METHOD /path status json.path: field``."""
    return _missing(baseline, current), _missing(current, baseline)


def _missing(old: Required, new: Required) -> list[str]:
    gone = []
    for spec, operations in old.items():
        for operation, statuses in operations.items():
            for status, paths in statuses.items():
                kept = new.get(spec, {}).get(operation, {}).get(status, {})
                for path, names in paths.items():
                    gone += [f"{spec} {operation} {status} {path}: {name}"
                             for name in names if name not in kept.get(path, ())]
    return gone


def load_baseline() -> Required:
    return json.loads(BASELINE.read_text(encoding="utf-8"))


def main() -> int:
    current = required_fields()
    if BASELINE.exists():
        lost, gained = compare(load_baseline(), current)
        if lost:
            print(f"not written: the specs no longer require {len(lost)} field(s) the "
                  f"baseline does:\n  " + "\n  ".join(lost) + "\nRequired answer fields are "
                  "never removed; restore them in specs/.", file=sys.stderr)
            return 1
        print(f"{len(gained)} required field(s) added" if gained else "no change")
    text = json.dumps(current, indent=1, sort_keys=True)
    # One line per JSON path, its fields side by side: a change reads as one line of diff.
    text = re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                  lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)
    BASELINE.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {BASELINE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
