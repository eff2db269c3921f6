"""Answers held against the specs (``--check-answers``).

Requests are validated against ``specs/`` on the way in; with this on, every answer is
held against its operation on the way out too, so a handler and its spec cannot drift
apart unnoticed: the status must be documented for the operation, the content type
documented for that status, and a JSON body valid against that status's schema. A
streamed or binary answer is checked as far as it can be (status, content type); media
downloads have no spec and are left alone.

Each mismatch is logged as a WARNING, kept on the checker, and passed to whoever is
collecting (:func:`collecting`): the test suite fails the test that caused it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import orjson
from aiohttp import web

from .openapi import Spec, documented, load_spec
from .pointers import resolved

log = logging.getLogger(__name__)

ADMIN = "admin"
ADMIN_PREFIX = "/_sim"
# The match name of the catch-all routes (the edge's UNMATCHED): what no route took.
CAUGHT = "unmatched"
# Mismatches a checker keeps; the log has them all.
KEPT = 1000
# How each mismatch starts in the log, so a test can look for it in a server's output.
LOGGED = "answer does not match"

_listeners: list[Callable[["Mismatch"], None]] = []


@dataclass(frozen=True)
class Mismatch:
    """One answer that breaks its spec, and every reason why."""

    spec: str
    method: str
    path: str
    status: int
    violations: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.method} {self.path} answered {self.status} against "
                f"specs/{self.spec}.yaml: {'; '.join(self.violations)}")


class AnswerChecker:
    """Holds each answer against the spec of the dialect (or control plane) that gave it."""

    def __init__(self, spec_ids: Iterable[str]):
        self.specs: dict[str, Spec] = {sid: load_spec(sid) for sid in spec_ids}
        self.mismatches: deque[Mismatch] = deque(maxlen=KEPT)

    def check(self, spec_id: str, method: str, path: str, response: web.StreamResponse,
              *, injected: bool = False, routed: bool = False) -> Mismatch | None:
        """Hold ``response`` (to ``method path``, the path inside the dialect) against
        the spec; the mismatch, also logged and kept, or None when it conforms.

        ``injected``: a fault rule chose the status, so an undocumented one is the
        rule's doing, not the server's; a documented one's body is still checked.
        ``routed``: a handler of the server answered, so an operation the spec lacks is
        a mismatch too (a dialect's routes come from its spec; the control plane's do
        not). Otherwise an answer to no operation (an unknown path) is not checked."""
        spec = self.specs.get(spec_id)
        if spec is None:
            return None  # no spec describes it (media)
        template = spec.operation_for(method, path)
        if template is not None:
            violations = _violations(spec, template, method, response, injected)
        elif routed:
            violations = [f"specs/{spec_id}.yaml has no operation {method.upper()} {path}"]
        else:
            return None
        if not violations:
            return None
        found = Mismatch(spec_id, method.upper(), path, response.status, tuple(violations))
        self.mismatches.append(found)
        log.warning("%s: %s", LOGGED, found)
        for listener in tuple(_listeners):
            listener(found)
        return found


def admin_middleware(checker: AnswerChecker):
    """Checks the control plane's answers against specs/admin.yaml (the edge checks the
    dialects')."""

    @web.middleware
    async def check_admin_answers(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith(ADMIN_PREFIX):
            # The catch-all's refusal of an unknown call is no handler's answer.
            routed = request.match_info.http_exception is None \
                and CAUGHT not in request.match_info
            checker.check(ADMIN, request.method, request.path, response, routed=routed)
        return response

    return check_admin_answers


@contextlib.contextmanager
def collecting() -> Iterator[list[Mismatch]]:
    """Every mismatch any checker in this process finds while the block runs, including
    those of simulators started out of the caller's reach (the client runner's)."""
    found: list[Mismatch] = []
    _listeners.append(found.append)
    try:
        yield found
    finally:
        _listeners.remove(found.append)


def _violations(spec: Spec, template: str, method: str, response: web.StreamResponse,
                injected: bool) -> list[str]:
    status = response.status
    responses = spec.document["paths"][template][method.lower()].get("responses", {})
    code = documented(responses, status)
    if code is None:
        return [] if injected else spec.check_answer(template, method, status, None)
    content = resolved(spec.document, responses[code]).get("content") or {}
    kind = response.content_type  # what aiohttp sends: application/octet-stream unless set
    body = getattr(response, "body", None)
    if not content:
        return [f"a {kind} body where the spec documents none"] if body else []
    if not any(_media_matches(listed, kind) for listed in content):
        return [f"content type {kind} is not documented for {status} "
                f"(documented: {', '.join(content)})"]
    if not isinstance(body, bytes) or not _is_json(kind):
        return []  # streamed, a file, or not JSON: nothing more can be read
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [f"the body is not valid JSON although the answer says {kind}"]
    return spec.check_answer(template, method, status, document)


def _media_matches(documented: str, kind: str) -> bool:
    """Whether an answer's media type is one the spec documents (``audio/*``, ``*/*``)."""
    documented = documented.split(";")[0].strip().lower()
    major, _, minor = documented.partition("/")
    given_major, _, given_minor = kind.lower().partition("/")
    return major in ("*", given_major) and minor in ("*", given_minor)


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")
