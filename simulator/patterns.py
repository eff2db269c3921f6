"""Regular expressions as JSON Schema reads them (ECMA-262), for Python's ``re``.

jsonschema-rs, the fast validator, already reads them so; the pure-Python validator and
the parameter shortcut read ``pattern`` with ``re``, whose ``$`` also matches before a
final newline. Both read them through here, so all three agree on every value.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


def ecma(pattern: str) -> str:
    r"""A JSON Schema ``pattern`` (ECMA-262) for Python's ``re``: there ``$`` also matches
    before a final newline, so ``^[a-z]+$`` took ``"abc\n"``; outside a character class it
    becomes ``\Z``, the very end."""
    out, index, in_class = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return "".join(out)


@lru_cache(maxsize=None)
def regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled as JSON Schema reads it, once."""
    return re.compile(ecma(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# The 2020-12 validator with patterns read as JSON Schema reads them (see ecma); the
# fast validator (jsonschema-rs) already does.
Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
