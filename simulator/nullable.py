"""Null means absent: the form of a spec that a dialect dropping null members serves.

A spec marked ``x-null-means-absent`` belongs to a dialect whose server drops a null
member before validating a request, so the document it serves (and fuzzes with) must
accept null wherever a member may be left out.
"""

from __future__ import annotations

from typing import Any

from .pointers import resolved


def allow_null_optionals(document: dict[str, Any], *, conditions: bool = True) -> None:
    """Let every member a request body may leave out also be ``null``.

    A spec marked ``x-null-means-absent`` belongs to a dialect that takes a null member as
    "not given" (the server drops it before validating), so the document it serves must
    say the same: a member its object always requires stays as written; any other may be
    null; and the object's conditional rules read a null member as an absent one.

    ``conditions=False`` leaves the conditional rules as written, so where a rule looks
    at a member sent as null the document may judge otherwise than the server. Test-data
    generators need that lighter form for the largest bodies (acedata's audios,
    openaihk's generate), whose many conditions otherwise multiply out past what they
    can expand.
    """
    seen: set[int] = set()

    def visit(schema: Any) -> None:
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        if "$ref" in schema:
            visit(resolved(document, schema))
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(key, ()):
                visit(branch)
        visit(schema.get("items"))
        properties = schema.get("properties")
        if isinstance(properties, dict):
            always = set(schema.get("required", ()))
            for name, member in list(properties.items()):
                visit(member)
                if name not in always:
                    properties[name] = _or_null(member)
        for key in ("allOf", "anyOf", "oneOf", "if", "then", "else"):
            for rule in _as_list(schema.get(key)):
                null_as_absent(rule)

    def null_as_absent(rule: Any) -> None:
        """In a conditional rule, null reads as absent: a member the rule requires must
        not be null, and any other member it constrains passes when null, as when left
        out; an object it describes has null optionals of its own."""
        if not isinstance(rule, dict):
            return
        for member in rule.get("properties", {}).values():
            visit(member)
        if not conditions:
            return
        required = rule.get("required", ())
        members = rule.get("properties", {})
        if required or members:
            members = rule.setdefault("properties", {})
        for name, member in list(members.items()):
            if name not in required:
                members[name] = _or_null(member)
        for name in required:
            members[name] = _not_null(members.get(name))
        # A `not` is left as written: generators of test data cannot invert a richer one.
        for key in ("allOf", "anyOf", "oneOf", "if", "then", "else"):
            for inner in _as_list(rule.get(key)):
                null_as_absent(inner)

    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                content = (operation.get("requestBody") or {}).get("content", {})
                for media in content.values():
                    visit(media.get("schema"))


# Flat forms where they exist (an enum, a list of types): a tree of anyOf in every
# conditional multiplies out past what test-data generators can expand.
_NON_NULL = ["string", "number", "boolean", "object", "array"]


def _or_null(schema: Any) -> Any:
    """``schema``, or null."""
    if not isinstance(schema, dict) or not schema:
        return schema
    if _COMBINED.intersection(schema):
        return {"anyOf": [schema, {"type": "null"}]}
    widened = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str):
        widened["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        widened["type"] = [*kind, "null"]
    if "const" in schema:
        del widened["const"]
        widened["enum"] = [schema["const"], None]
    elif "enum" in schema and None not in schema["enum"]:
        widened["enum"] = [*schema["enum"], None]
    return widened


def _not_null(schema: Any) -> Any:
    """``schema``, and not null."""
    if schema is None:
        return {"type": list(_NON_NULL)}
    if not isinstance(schema, dict):
        return schema
    if "const" in schema or "enum" in schema or isinstance(schema.get("type"), str):
        return schema if None not in schema.get("enum", ()) else \
            {**schema, "enum": [v for v in schema["enum"] if v is not None]}
    return {"allOf": [schema, {"type": list(_NON_NULL)}]}


_COMBINED = {"$ref", "allOf", "anyOf", "oneOf", "not", "if"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def without_nulls(value: Any) -> Any:
    """``value`` with the null members of its objects (at any depth) left out; nulls
    inside arrays stay, since an array's items are not optional fields."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
