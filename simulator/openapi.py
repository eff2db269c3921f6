"""Specs drive behaviour: request bodies are checked against specs/<id>.yaml.

Before the schema, every body is held to the document's ``x-limits``: how deep JSON may
nest and how long any text in it may be where the schema gives no ``maxLength``. What is
accepted is stored and later rendered, so a bound that holds at the door is what keeps
every later answer renderable.

Each operation's request schema is compiled once, twice over: jsonschema-rs answers the
common question "is it valid?" in about a microsecond, and only a refused body goes
through the pure-Python validator, whose errors carry the subschema that failed. The
first error becomes a :class:`Violation` naming the parameter; the spec can word the
message (``x-message``) and override the status and type (``x-error``).
"""

from __future__ import annotations

import copy
import heapq
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .nullable import allow_null_optionals, without_nulls
from .patterns import Validator, regex
from .pointers import fragment, located, resolved
from .resources import resource_dir
from .sandboxed import with_sandboxes

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


@dataclass(frozen=True)
class Bounds:
    """A spec's ``x-limits``: the deepest nesting of a JSON body, and the longest text
    (member names included) in it."""

    depth: int = 32
    text: int = 65_536

    def too_deep(self, document: Any) -> Violation | None:
        """Whether ``document`` nests deeper than allowed: walked without recursion, so
        any depth the parser accepted is measured safely."""
        stack: list[tuple[Any, int, tuple]] = [(document, 0, ())]
        while stack:
            value, depth, path = stack.pop()
            if isinstance(value, dict):
                children = value.items()
            elif isinstance(value, list):
                children = enumerate(value)
            else:
                continue
            if depth + 1 > self.depth:
                param = _member(path)
                return Violation(param, f"{param or 'request body'} nests deeper than "
                                        f"{self.depth} levels", "x-limits")
            stack.extend((child, depth + 1, (*path, name)) for name, child in children)
        return None

    def too_long(self, document: Any) -> Violation | None:
        """The first text over the limit, by the member that holds it."""
        stack: list[tuple[Any, tuple]] = [(document, ())]
        while stack:
            value, path = stack.pop()
            if isinstance(value, str):
                if len(value) > self.text:
                    param = ".".join(map(str, path)) or None
                    return Violation(param, f"{param or 'request body'} must be at most "
                                            f"{self.text} characters", "maxLength")
            elif isinstance(value, dict):
                for name, child in value.items():
                    if len(name) > self.text:
                        return Violation(".".join(map(str, path)) or None,
                                         f"member names must be at most {self.text} "
                                         f"characters", "maxLength")
                    stack.append((child, (*path, name)))
            elif isinstance(value, list):
                stack.extend((child, (*path, index)) for index, child in enumerate(value))
        return None


class Spec:
    def __init__(self, provider_id: str):
        path = resource_dir("specs") / f"{provider_id}.yaml"
        with open(path, encoding="utf-8") as handle:
            self.document: dict[str, Any] = with_sandboxes(yaml.safe_load(handle))
        # What the spec says a client may send, spelled out for other tools: the document
        # as written is what requests are checked against (after nulls are dropped).
        self.served: dict[str, Any] = self.document
        self.nulls_absent = bool(self.document.get("x-null-means-absent"))
        if self.nulls_absent:
            self.served = copy.deepcopy(self.document)
            allow_null_optionals(self.served)
        self.id = provider_id
        self.bounds = Bounds(**{_BOUND_NAMES[k]: int(v) for k, v
                                in self.document.get("x-limits", {}).items()
                                if k in _BOUND_NAMES})
        uri = f"urn:musicsim:{provider_id}"
        self._uri = uri
        self._registry = Registry().with_resource(
            uri, Resource.from_contents(self.document, default_specification=DRAFT202012))
        self._validators: dict[tuple[str, str], Validator] = {}
        self._fast: dict[tuple[str, str], Any] = {}
        self._answers: dict[tuple[str, str, str], list[str] | None] = {}
        self._schemas: dict[str, Validator] = {}
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
            if method in operations and pattern.fullmatch(path):
                return template
        return None

    def check_answer(self, template: str, method: str, status: int, body: Any) -> list[str]:
        """Why an answer breaks the spec: an undocumented status, or a JSON body that does
        not fit the documented schema ([] when it conforms)."""
        responses = self.document["paths"][template][method.lower()].get("responses", {})
        code = documented(responses, status)
        if code is None:
            return [f"status {status} is not documented for {method.upper()} {template} "
                    f"(documented: {', '.join(sorted(responses))})"]
        parts = self.answer_schema(template, method, code)
        return [] if parts is None else self._errors(parts, body)

    def check_component(self, name: str, document: Any) -> list[str]:
        """Why a document breaks ``components/schemas/<name>`` ([] when it conforms):
        for bodies no operation answers with, such as callback payloads."""
        return self._errors(["components", "schemas", name], document)

    def _errors(self, parts: list[str], document: Any) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in self.validator(parts).iter_errors(document)][:5]

    def answer_schema(self, template: str, method: str, code: str) -> list[str] | None:
        """Where the JSON schema of an operation's response ``code`` is in the document
        (a shared response under components/responses followed), or None when that
        response documents no JSON body."""
        key = (template, method.lower(), code)
        if key not in self._answers:
            where, response = located(self.document, ["paths", template, method.lower(),
                                                      "responses", code])
            content = response.get("content") or {}
            kind = next((k for k in content if "json" in k), None)
            self._answers[key] = None if kind is None or "schema" not in content[kind] \
                else [*where, "content", kind, "schema"]
        return self._answers[key]

    def validator(self, parts: list[str]) -> Validator:
        """The schema at ``parts`` compiled within the whole document, formats checked:
        what answers and callbacks are held against."""
        target = fragment(parts)
        if target not in self._schemas:
            self._schemas[target] = Validator(
                {"$ref": f"{self._uri}#/{target}"}, registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self._schemas[target]

    def body_validator(self, path: str, method: str) -> Validator:
        key = (path, method.lower())
        validator = self._validators.get(key)
        if validator is None:
            operation = self.document["paths"][path][method.lower()]
            if "requestBody" not in operation:
                raise KeyError(f"{method} {path} has no request body in specs/{self.id}.yaml")
            pointer = fragment(("paths", path, method.lower(), "requestBody", "content",
                                "application/json", "schema"))
            validator = Validator({"$ref": f"{self._uri}#/{pointer}"},
                                             registry=self._registry)
            self._validators[key] = validator
            # The whole document rides along so that local $refs resolve; its other
            # top-level keys are not schema keywords and are ignored.
            self._fast[key] = jsonschema_rs.Draft202012Validator(
                {**self.document, "$ref": f"#/{pointer}"}, validate_formats=False)
        return validator

    def parameter_check(self, path: str, method: str, location: str) -> "ParameterCheck":
        """The operation's ``path`` or ``query`` parameters, compiled once for the route
        that checks every request against them."""
        params = []
        for parameter in self.parameters(path, method):
            if parameter.get("in") != location:
                continue
            schema = parameter.get("schema", {})
            shape = resolved(self.document, schema)  # a schema given by $ref, followed
            within = {**self.document, **schema}  # as a body's: its $refs resolve, any depth
            params.append(_Parameter(
                parameter["name"], bool(parameter.get("required")), "default" in shape,
                shape.get("default"), _CONVERTERS.get(shape.get("type")),
                _plain_check(shape),
                jsonschema_rs.Draft202012Validator(within, validate_formats=False),
                Validator(within, registry=self._registry)))
        return ParameterCheck(tuple(params))

    def parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        """An operation's parameters, with those given by reference resolved."""
        return [resolved(self.document, parameter) for parameter
                in self.document["paths"][path][method.lower()].get("parameters", ())]

    def accept_body(self, path: str, method: str, body: Any) -> tuple[Any, Violation | None]:
        """The body as the operation takes it, and the first reason it breaks the spec
        (None when it conforms). Where the spec says ``x-null-means-absent``, every null
        member is left out first (an optional field sent as null means "not given", as
        clients that serialize their unset fields expect); the depth is checked before
        that walk, so nothing walks a body nested past the bound."""
        too_deep = self.bounds.too_deep(body)
        if too_deep is not None:
            return body, too_deep
        if self.nulls_absent:
            body = without_nulls(body)
        return body, self._check_shape(path, method, body)

    def check_body(self, path: str, method: str, body: Any) -> Violation | None:
        """The first reason the body, as given, breaks the spec, or None when it
        conforms: too deep before anything else, then the schema (whose own limits word
        their refusals best), then the document's bound on text."""
        too_deep = self.bounds.too_deep(body)
        return too_deep if too_deep is not None else self._check_shape(path, method, body)

    def _check_shape(self, path: str, method: str, body: Any) -> Violation | None:
        validator = self.body_validator(path, method)
        if self._fast[(path, method.lower())].is_valid(body):
            return self.bounds.too_long(body)
        error = _best(list(validator.iter_errors(body)))
        return None if error is None else _violation(error)


# Keywords that describe a parameter without ever refusing a value (formats are not
# checked, as in every other validation here).
_ANNOTATIONS = frozenset({"description", "example", "examples", "default", "title",
                          "deprecated", "format"})


def _plain_check(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """A check for the plain schemas most parameters have (text with a length, a pattern
    or a list of values; a number within bounds) that answers True only where the schema
    validator would accept too, without calling it: parameters are checked on every
    request. False means "ask the validator"; None: the schema is not a plain one.

    A pattern is read as the validator that words the refusals reads it (patterns.ecma).
    """
    keys = {k for k in schema if not k.startswith("x-")} - _ANNOTATIONS
    kind = schema.get("type")
    if kind == "string" and keys <= {"type", "minLength", "maxLength", "pattern", "enum"}:
        low, high = schema.get("minLength", 0), schema.get("maxLength", float("inf"))
        allowed = frozenset(schema["enum"]) if "enum" in schema else None
        pattern = regex(schema["pattern"]).search if "pattern" in schema else None

        def text(value: Any) -> bool:
            return type(value) is str and low <= len(value) <= high \
                and (allowed is None or value in allowed) \
                and (pattern is None or pattern(value) is not None)
        return text
    if kind in ("integer", "number") and keys <= {"type", "minimum", "maximum"}:
        types = (int,) if kind == "integer" else (int, float)
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)

        def number(value: Any) -> bool:
            return type(value) in types and math.isfinite(value) and low <= value <= high
        return number
    return None


_CONVERTERS = {"integer": int, "number": float,
               "boolean": {"true": True, "false": False}.__getitem__}


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    required: bool
    has_default: bool
    default: Any
    convert: Any  # text to the schema's type (None: text stays text)
    plain: Callable[[Any], bool] | None  # True: surely valid (see _plain_check)
    fast: Any  # jsonschema-rs: "is it valid?"
    validator: Validator  # why not, when it is not


@dataclass(frozen=True, slots=True)
class ParameterCheck:
    """One operation's parameters at one location, compiled: every request that route
    answers runs through it."""

    parameters: tuple[_Parameter, ...]

    def __call__(self, values: Mapping[str, str]) -> tuple[Violation | None, dict[str, Any]]:
        """The first parameter that breaks its schema (or None), and the values converted
        to their schema types (``?limit=5`` becomes 5; text that is not one stays text,
        for the schema to refuse)."""
        typed: dict[str, Any] = {}
        for parameter in self.parameters:
            name = parameter.name
            raw = values.get(name)
            if raw is None:
                if parameter.required:
                    return Violation(name, f"{name} is required", "required"), typed
                if parameter.has_default:
                    typed[name] = parameter.default
                continue
            value = raw
            if parameter.convert is not None:
                try:
                    value = parameter.convert(raw)
                except (KeyError, ValueError):
                    pass
            if not (parameter.plain is not None and parameter.plain(value)) \
                    and not parameter.fast.is_valid(value):
                error = best_match(parameter.validator.iter_errors(value), key=_relevance)
                if error is not None:
                    error.path.appendleft(name)
                    return _violation(error), typed
            typed[name] = value
        return None, typed


def _type_words(kind: Any) -> str:
    """``"string"`` → "a string"; ``["string", "null"]`` → "a string or null"."""
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)


def _member(path: tuple) -> str | None:
    """The member a deep path runs through, named by its first few names (list indices
    left out): the field at fault, without a name thirty levels long."""
    names = [str(part) for part in path if not isinstance(part, int)][:4]
    return ".".join(names) or None


_BOUND_NAMES = {"maxDepth": "depth", "maxTextLength": "text"}


def _best(errors: list[ValidationError]) -> ValidationError | None:
    """The error to report, as jsonschema's ``best_match`` picks it, except where a
    ``oneOf`` or ``anyOf`` fits no branch and one branch has fewer errors than every
    other: the body was meant for that branch, so its error is the one to tell (a fault
    rule with ``probability: 2`` hears about its probability, not about the other kind
    of rule it never meant)."""
    best = max(errors, key=_relevance, default=None)
    while best is not None and best.context:
        if best.validator in ("oneOf", "anyOf"):
            branches: dict[Any, list[ValidationError]] = {}
            for inner in best.context:
                branches.setdefault(inner.relative_schema_path[0], []).append(inner)
            sizes = sorted(map(len, branches.values()))
            if len(sizes) == 1 or sizes[0] < sizes[1]:
                best = max(min(branches.values(), key=len), key=_relevance)
                continue
        smallest = heapq.nsmallest(2, best.context, key=_relevance)
        if len(smallest) == 2 and _relevance(smallest[0]) == _relevance(smallest[1]):
            return best
        best = smallest[0]
    return best


def _relevance(error: ValidationError):
    # An error the spec marks with x-error (an unknown model, say) outranks the rest.
    marked = isinstance(error.schema, dict) and "x-error" in error.schema
    return (marked, *relevance(error))


def _violation(error: ValidationError) -> Violation:
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        param = ".".join([*map(str, error.absolute_path), missing[0]]) if missing else None
    else:
        param = ".".join(map(str, error.absolute_path)) or None
    schema = error.schema if isinstance(error.schema, dict) else {}
    limit = error.validator_value
    if keyword == "type":  # a wrong type is named as such, whatever else the spec words
        template = "{param} must be " + _type_words(limit)
    elif "x-message" in schema:
        template = schema["x-message"]
    elif keyword == "enum":
        template = "{param} must be one of: " + ", ".join(map(str, limit))
    else:
        template = _GENERIC.get(keyword, "{param} is invalid")
    message = template.format(param=param or "request body", limit=limit)
    return Violation(param, message, keyword, dict(schema.get("x-error") or {}))


def documented(responses: Mapping[str, Any], status: int) -> str | None:
    """The response documented for ``status``: its exact code, then its class (``5XX``),
    then ``default``; None when none is."""
    return next((code for code in (str(status), f"{str(status)[0]}XX", "default")
                 if code in responses), None)


@lru_cache(maxsize=None)
def load_spec(provider_id: str) -> Spec:
    """The spec of one dialect (or ``admin``), parsed and compiled once per process."""
    return Spec(provider_id)


def spec_ids() -> list[str]:
    return sorted(p.stem for p in resource_dir("specs").glob("*.yaml"))
