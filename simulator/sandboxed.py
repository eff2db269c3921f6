"""A spec's calls served again inside each sandbox, spelled out once in the document.

admin.yaml marks each path item a sandbox has with ``x-sandboxed: true`` and says, in
its top-level ``x-sandboxed``, under which prefix and with which path parameter.
Reading the document adds the copies: the same operations under the prefix, the
parameter first, ``InSandbox`` after each operationId (ids stay unique; links lead to
the same sandbox's calls) and a 404 for a sandbox that is not there. Every reader (the server's checks, the answer checker,
schemathesis, ``musicsim specs export``) then sees the calls as served, with no second
hand-kept copy.
"""

from __future__ import annotations

import copy
from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def with_sandboxes(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its sandboxed path items added under the sandbox prefix (the
    document itself when it declares none)."""
    rule = document.get("x-sandboxed")
    if not rule:
        return document
    base, prefix, parameter = rule["base"], rule["prefix"], rule["parameter"]
    paths = document["paths"]
    scoped = {operation["operationId"] for item in paths.values() if item.get("x-sandboxed")
              for method, operation in item.items() if method in METHODS}
    added: dict[str, Any] = {}
    for path, item in paths.items():
        if not item.get("x-sandboxed"):
            continue
        if not path.startswith(base):
            raise ValueError(f"{path} is marked x-sandboxed but is not under {base}")
        copied = copy.deepcopy(item)
        copied.pop("x-sandboxed")
        copied["parameters"] = [parameter, *copied.get("parameters", [])]
        for method in METHODS:
            operation = copied.get(method)
            if operation is None:
                continue
            operation["operationId"] += "InSandbox"
            operation.setdefault("responses", {}).setdefault("404", rule["notFound"])
            for response in operation["responses"].values():
                for link in response.get("links", {}).values():
                    _stay_inside(link, scoped)
        added[prefix + path[len(base):]] = copied
    document["paths"] = {**paths, **added}
    return document


def _stay_inside(link: dict[str, Any], scoped: set[str]) -> None:
    """A link from a sandbox's call leads to the same sandbox's call."""
    if link.get("operationId") in scoped:
        link["operationId"] += "InSandbox"
        link["parameters"] = {"sandbox": "$request.path.sandbox", **link.get("parameters", {})}
