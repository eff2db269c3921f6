"""One recorded answer held against its operation in ``specs/<id>.yaml``: the operation,
the status, the body against the response schema (fields missing, extra or of the wrong
type, named by JSON path) and, for a refusal, the dialect's error shape."""

from __future__ import annotations

import re
from typing import Any

from simulator.cassette import Exchange
from simulator.openapi import Spec, documented, load_spec
from simulator.pointers import fragment, located

from ..dialect import Driver
from ..dialects import driver as driver_of
from .findings import (ERROR_SHAPE, EXTRA_FIELD, INVALID_VALUE, MISSING_FIELD, NOT_JSON,
                       UNDOCUMENTED_STATUS, UNKNOWN_OPERATION, UNKNOWN_VALUE, WRONG_TYPE,
                       Finding)

# Schema rules the walk below reports itself; jsonschema words the rest.
_WALKED = frozenset({"type", "required", "enum", "const", "additionalProperties", "oneOf",
                     "anyOf", "allOf", "if", "then", "else", "not", "$ref"})
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean",
               type(None): "null", int: "integer", float: "number"}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def field_of(path: str) -> str:
    """A concrete JSON path with its array indices as ``[*]``, to group by."""
    return re.sub(r"\[\d+\]", "[*]", path)


class Shapes:
    """Checks exchanges of one dialect against its spec."""

    def __init__(self, provider: str):
        self.provider = provider
        self.spec: Spec = load_spec(provider)
        self.driver: Driver = driver_of(provider)

    def operation(self, exchange: Exchange) -> str:
        """``METHOD /template`` of the exchange, or its own path when the spec has none."""
        template = self.spec.operation_for(exchange.method, exchange.path)
        return f"{exchange.method} {template or exchange.path}"

    def check(self, exchange: Exchange) -> list[Finding]:
        method, spec_id = exchange.method, self.provider
        template = self.spec.operation_for(method, exchange.path)
        if template is None:
            if exchange.status in (404, 405) or exchange.media is not None:
                return []  # no such operation, as the service agrees; or a media link
            return [Finding(UNKNOWN_OPERATION, f"{method} {exchange.path}", "",
                            f"specs/{spec_id}.yaml has no operation {method} {exchange.path}",
                            exchange.seq, suggestion=f"specs/{spec_id}.yaml paths: add "
                            f"{exchange.path} with the operation {method.lower()}")]
        operation = f"{method} {template}"
        responses = self.spec.document["paths"][template][method.lower()].get("responses", {})
        status = exchange.status
        code = documented(responses, status)
        found: list[Finding] = []
        body = exchange.response_json()
        if status >= 400 and exchange.media is None and self.driver.error_of(body) is None:
            found.append(Finding(ERROR_SHAPE, operation, "$",
                                 f"a {status} whose body is not the dialect's error shape",
                                 exchange.seq, _excerpt(exchange.response_text)))
        if code is None:
            found.append(Finding(
                UNDOCUMENTED_STATUS, operation, "",
                f"status {status} is not documented (documented: {', '.join(sorted(responses))})",
                exchange.seq, status, suggestion=f"specs/{spec_id}.yaml paths.{template}."
                f"{method.lower()}.responses: document {status}"))
            return found
        schema = self.spec.answer_schema(template, method, code)
        if schema is None or exchange.response_text is None \
                or "ndjson" in exchange.content_type:
            return found
        if body is None:
            return found + [Finding(NOT_JSON, operation, "$", "the body is not JSON although "
                                    "the spec documents a JSON answer", exchange.seq,
                                    _excerpt(exchange.response_text))]
        walk = _Walk(self, operation, exchange.seq)
        walk.node(schema, body, "$")
        found += walk.found
        for error in self.spec.validator(schema).iter_errors(body):
            if error.validator in _WALKED:
                continue
            path = _path(error.absolute_path)
            found.append(Finding(INVALID_VALUE, operation, field_of(path),
                                 f"{path}: {error.message}", exchange.seq, error.instance))
        return found

    def errors(self, pointer: list[str], value: Any) -> int:
        """How many ways ``value`` breaks the schema at ``pointer`` (to pick a branch)."""
        return sum(1 for _ in self.spec.validator(pointer).iter_errors(value))


class _Walk:
    """Walks a body beside its schema, naming each field that is missing, extra, of the
    wrong type or outside an enum; a ``oneOf``/``anyOf`` is walked along the branch the
    body fits best."""

    def __init__(self, shapes: Shapes, operation: str, seq: int):
        self.shapes, self.operation, self.seq = shapes, operation, seq
        self.found: list[Finding] = []
        self.spec_name = f"specs/{shapes.provider}.yaml"

    def node(self, pointer: list[str], value: Any, path: str, extras: bool = True) -> None:
        """``extras``: whether a member the schema does not name is extra (not so for a
        branch of an ``allOf``, whose siblings name the rest)."""
        pointer, schema = located(self.shapes.spec.document, pointer)
        if not isinstance(schema, dict):
            return
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                branches = [[*pointer, keyword, str(i)] for i in range(len(schema[keyword]))]
                best = min(branches, key=lambda b: self.shapes.errors(b, value))
                self.node(best, value, path, extras)
        types = schema.get("type")
        if types is not None and not _type_fits(types, value):
            expected = types if isinstance(types, str) else " or ".join(types)
            self._add(WRONG_TYPE, path, f"{path} is {json_type(value)}, the spec says {expected}",
                      value, f"{self._anchor(pointer)}: type {expected} (seen {json_type(value)})")
            return
        allowed = schema.get("enum", [schema["const"]] if "const" in schema else None)
        if allowed is not None and value not in allowed:
            self._add(UNKNOWN_VALUE, path, f"{path} is {value!r}, not one of "
                      f"{', '.join(map(repr, allowed))}", value,
                      f"{self._anchor(pointer)}: add {value!r} to the enum")
        parts = [(pointer, schema)] + [located(self.shapes.spec.document,
                                                       [*pointer, "allOf", str(i)])
                                       for i in range(len(schema.get("allOf", ())))]
        for branch, _ in parts[1:]:
            self.node(branch, value, path, extras=False)
        if isinstance(value, dict):
            self._object(parts, value, path, extras)
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self.node([*pointer, "items"], item, f"{path}[{index}]")

    def _object(self, parts: list[tuple[list[str], Any]], value: dict, path: str,
                extras: bool) -> None:
        pointer, schema = parts[0]
        known: dict[str, list[str]] = {}
        required: set[str] = set(schema.get("required", ()))
        open_ended = "properties" not in schema and not any(
            "properties" in sub for _, sub in parts[1:])
        for branch, sub in parts:
            for name in sub.get("properties", {}):
                known.setdefault(name, [*branch, "properties", name])
            if sub.get("additionalProperties") not in (None, False) or "patternProperties" in sub:
                open_ended = True
        for name in sorted(required - set(value)):
            self._add(MISSING_FIELD, f"{path}.{name}", f"{path}.{name} is required by the "
                      f"spec and missing", None,
                      f"{self._anchor(pointer)}: make {name!r} optional (drop it from required)")
        for name, item in value.items():
            if name in known:
                if name not in schema.get("properties", {}):
                    continue  # an allOf branch walks its own properties
                self.node(known[name], item, f"{path}.{name}")
            elif extras and not open_ended:
                self._add(EXTRA_FIELD, f"{path}.{name}", f"{path}.{name} is not in the spec",
                          item, f"{self._anchor(pointer)}/properties: add {name!r}: "
                          f"{{type: {json_type(item)}}} (optional)")

    def _add(self, kind: str, path: str, message: str, value: Any, suggestion: str) -> None:
        self.found.append(Finding(kind, self.operation, field_of(path), message, self.seq,
                                  value, suggestion=f"{self.spec_name} {suggestion}"))

    @staticmethod
    def _anchor(pointer: list[str]) -> str:
        return "#/" + fragment(pointer)


def _type_fits(types: Any, value: Any) -> bool:
    kinds = {types} if isinstance(types, str) else set(types)
    actual = json_type(value)
    return actual in kinds or (actual == "integer" and "number" in kinds) or (
        actual == "number" and "integer" in kinds and float(value).is_integer())


def _path(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _excerpt(text: str | None, most: int = 200) -> str | None:
    if text is None:
        return None
    return text if len(text) <= most else text[:most] + "…"
