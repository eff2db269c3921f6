"""Local references within one document: a ``$ref`` read as its tokens, tokens written
back as a URI fragment, and a node followed through its references (keeping where it
ended, for whoever must name or compile the schema found there)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def tokens(ref: str) -> list[str]:
    """A local ``$ref`` (``#/components/schemas/a~1b``) as its decoded tokens."""
    return [part.replace("~1", "/").replace("~0", "~") for part in ref.lstrip("#/").split("/")]


def fragment(parts: list[str] | tuple[str, ...]) -> str:
    """Tokens as a JSON pointer, percent-encoded for use in a URI fragment (after ``#/``)."""
    return "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="~")
                    for part in parts)


def at(document: Any, parts: list[str]) -> Any:
    """The node at ``parts`` (a list's items by their index)."""
    node = document
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def located(document: Any, parts: list[str]) -> tuple[list[str], Any]:
    """The node at ``parts``, followed through its local ``$ref`` (and theirs), and the
    tokens of where it was found."""
    node = at(document, parts)
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#"):
        parts = tokens(node["$ref"])
        node = at(document, parts)
    return parts, node


def resolved(document: Any, node: Any) -> Any:
    """``node``, followed through its local ``$ref`` (and theirs) within ``document``."""
    while isinstance(node, dict) and "$ref" in node:
        node = at(document, tokens(node["$ref"]))
    return node
