"""Specs drive behaviour: request bodies are checked against specs/<id>.yaml.

Each operation's request schema is compiled once, twice over: jsonschema-rs answers the
common question "is it valid?" in about a microsecond, and only a refused body goes
through the pure-Python validator, whose errors carry the subschema that failed. The
first error becomes a :class:`Violation` naming the parameter; the spec can word the
message (``x-message``) and override the status and type (``x-error``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import re

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .resources import resource_dir

_GENERIC = {
    "required": "{param} is required",
    "maxLength": "{param} must be at most {limit} characters",
    "minLength": "{param} must be at least {limit} characters",
    "minimum": "{param} must be at least {limit}",
    "maximum": "{param} must be at most {limit}",
    "exclusiveMinimum": "{param} must be greater than {limit}",
    "exclusiveMaximum": "{param} must be less than {limit}",
    "pattern": "{param} has an invalid format",
    "format": "{param} has an invalid format",
    "minItems": "{param} must have at least {limit} items",
    "maxItems": "{param} must have at most {limit} items",
    "const": "{param} must be {limit}",
}
_TYPE_WORDS = {"string": "a string", "boolean": "a boolean", "number": "a number",
               "integer": "an integer", "object": "an object", "array": "an array"}


@dataclass(frozen=True)
class Violation:
    """Why a request body was refused, in words any dialect can render."""

    param: str | None
    message: str
    keyword: str
    extra: dict[str, Any] = field(default_factory=dict)  # the schema's x-error, if any


class Spec:
    def __init__(self, provider_id: str):
        path = resource_dir("specs") / f"{provider_id}.yaml"
        with open(path, encoding="utf-8") as handle:
            self.document: dict[str, Any] = yaml.safe_load(handle)
        self.id = provider_id
        uri = f"urn:musicsim:{provider_id}"
        self._uri = uri
        self._registry = Registry().with_resource(
            uri, Resource.from_contents(self.document, default_specification=DRAFT202012))
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._fast: dict[tuple[str, str], Any] = {}
        self._param_validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._answers: dict[tuple[str, str, str], Draft202012Validator | None] = {}
        self._routes = [(re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                                    + "/?$"), template, tuple(operations))
                        for template, operations in self.document.get("paths", {}).items()]
        # A literal path outranks a template that also matches it (/suno/persona/create/
        # before /suno/persona/{id}): fewer braces first.
        self._routes.sort(key=lambda route: route[1].count("{"))

    def operation_for(self, method: str, path: str) -> str | None:
        """The spec's path template that ``method path`` is an operation of, or None."""
        method = method.lower()
        for pattern, template, operations in self._routes:
            if method in operations and pattern.match(path):
                return template
        return None

    def check_answer(self, template: str, method: str, status: int, body: Any) -> list[str]:
        """Why an answer breaks the spec: an undocumented status, or a JSON body that does
        not fit the documented schema ([] when it conforms). The response for a status
        is the exact code, then its class (``5XX``), then ``default``."""
        responses = self.document["paths"][template][method.lower()].get("responses", {})
        code = next((c for c in (str(status), f"{str(status)[0]}XX", "default")
                     if c in responses), None)
        if code is None:
            return [f"status {status} is not documented for {method.upper()} {template} "
                    f"(documented: {', '.join(sorted(responses))})"]
        key = (template, method.lower(), code)
        if key not in self._answers:
            self._answers[key] = self._answer_validator(template, method.lower(), code)
        validator = self._answers[key]
        if validator is None:
            return []
        return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in validator.iter_errors(body)][:5]

    def check_component(self, name: str, document: Any) -> list[str]:
        """Why a document breaks ``components/schemas/<name>`` ([] when it conforms):
        for bodies no operation answers with, such as callback payloads."""
        key = ("#components", name, "")
        if key not in self._answers:
            self._answers[key] = Draft202012Validator(
                {"$ref": f"{self._uri}#/components/schemas/{_escape(name)}"},
                registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in self._answers[key].iter_errors(document)][:5]

    def _answer_validator(self, template: str, method: str,
                          code: str) -> Draft202012Validator | None:
        pointer = ["paths", template, method, "responses", code]
        response = self.document["paths"][template][method]["responses"][code]
        while "$ref" in response:  # a shared response under components/responses
            ref = response["$ref"]
            pointer = [part.replace("~1", "/").replace("~0", "~")
                       for part in ref.lstrip("#/").split("/")]
            response = self.document
            for part in pointer:
                response = response[part]
        content = response.get("content") or {}
        kind = next((k for k in content if "json" in k), None)
        if kind is None or "schema" not in content[kind]:
            return None
        target = "/".join(_escape(p) for p in (*pointer, "content", kind, "schema"))
        return Draft202012Validator({"$ref": f"{self._uri}#/{target}"}, registry=self._registry,
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def body_validator(self, path: str, method: str) -> Draft202012Validator:
        key = (path, method.lower())
        validator = self._validators.get(key)
        if validator is None:
            operation = self.document["paths"][path][method.lower()]
            if "requestBody" not in operation:
                raise KeyError(f"{method} {path} has no request body in specs/{self.id}.yaml")
            pointer = "/".join(_escape(p) for p in
                               ("paths", path, method.lower(), "requestBody", "content",
                                "application/json", "schema"))
            validator = Draft202012Validator({"$ref": f"{self._uri}#/{pointer}"},
                                             registry=self._registry)
            self._validators[key] = validator
            # The whole document rides along so that local $refs resolve; its other
            # top-level keys are not schema keywords and are ignored.
            self._fast[key] = jsonschema_rs.Draft202012Validator(
                {**self.document, "$ref": f"#/{pointer}"}, validate_formats=False)
        return validator

    def check_params(self, path: str, method: str, location: str,
                     values: dict[str, str]) -> tuple[Violation | None, dict[str, Any]]:
        """The first ``path`` or ``query`` parameter that breaks its schema (or None),
        and the values converted to their schema types (``?limit=5`` becomes 5)."""
        operation = self.document["paths"][path][method.lower()]
        typed: dict[str, Any] = {}
        for parameter in operation.get("parameters", ()):
            if parameter.get("in") != location:
                continue
            name, schema = parameter["name"], parameter.get("schema", {})
            if name not in values:
                if parameter.get("required"):
                    return Violation(name, f"{name} is required", "required"), typed
                if "default" in schema:
                    typed[name] = schema["default"]
                continue
            value = _typed(values[name], schema.get("type"))
            key = (path, f"{location}:{name}")
            validator = self._param_validators.get(key)
            if validator is None:
                validator = Draft202012Validator(schema, registry=self._registry)
                self._param_validators[key] = validator
                self._fast[key] = jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
            if not self._fast[key].is_valid(value):
                error = best_match(validator.iter_errors(value), key=_relevance)
                if error is not None:
                    error.path.appendleft(name)
                    return _violation(error), typed
            typed[name] = value
        return None, typed

    def check_path_params(self, path: str, method: str, values: dict[str, str]) -> Violation | None:
        """The first path parameter that breaks its schema, or None."""
        return self.check_params(path, method, "path", values)[0]

    def check_body(self, path: str, method: str, body: Any) -> Violation | None:
        """The first reason the body breaks the spec, or None when it conforms."""
        validator = self.body_validator(path, method)
        if self._fast[(path, method.lower())].is_valid(body):
            return None
        error = best_match(validator.iter_errors(body), key=_relevance)
        return None if error is None else _violation(error)


def _typed(raw: str, kind: str | None) -> Any:
    """A parameter's text as its schema's type, left as text when it is not one."""
    converters = {"integer": int, "number": float,
                  "boolean": {"true": True, "false": False}.__getitem__}
    try:
        return converters[kind](raw) if kind in converters else raw
    except (KeyError, ValueError):
        return raw


def _escape(part: str) -> str:
    """A JSON-pointer token, percent-encoded for use in a URI fragment."""
    return quote(part.replace("~", "~0").replace("/", "~1"), safe="~")


def _relevance(error: ValidationError):
    # An error the spec marks with x-error (an unknown model, say) outranks the rest.
    marked = isinstance(error.schema, dict) and "x-error" in error.schema
    return (marked, *relevance(error))


def _violation(error: ValidationError) -> Violation:
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        param = ".".join([*map(str, error.path), missing[0]]) if missing else None
    else:
        param = ".".join(map(str, error.path)) or None
    schema = error.schema if isinstance(error.schema, dict) else {}
    limit = error.validator_value
    if "x-message" in schema:
        template = schema["x-message"]
    elif keyword == "type":
        template = "{param} must be " + _TYPE_WORDS.get(str(limit), str(limit))
        if param is None:
            template = "request body must be " + _TYPE_WORDS.get(str(limit), str(limit))
    elif keyword == "enum":
        template = "{param} must be one of: " + ", ".join(map(str, limit))
    else:
        template = _GENERIC.get(keyword, "{param} is invalid")
    message = template.format(param=param or "request body", limit=limit)
    return Violation(param, message, keyword, dict(schema.get("x-error") or {}))


@lru_cache(maxsize=None)
def load_spec(provider_id: str) -> Spec:
    """The spec of one dialect (or ``admin``), parsed and compiled once per process."""
    return Spec(provider_id)


def spec_ids() -> list[str]:
    return sorted(p.stem for p in resource_dir("specs").glob("*.yaml"))
