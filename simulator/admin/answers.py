"""The control plane's answers: JSON in admin.yaml's shapes, refusals included, so no
answer under /_sim is plain text."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def json_answer(data: Any, status: int = 200,
                headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def error_answer(status: int, code: str, message: str, param: str | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return json_answer({"error": error}, status, headers)


# What aiohttp's own refusals (a body too large, a method a path does not take) are
# called in admin.yaml's codes.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's refusal as a control-plane error, so no answer under /_sim is plain text."""
    if exc.status == 404:
        message = "no such control-plane call; GET /_sim/health lists the server, " \
                  "specs/admin.yaml every call"
    elif exc.status == 405:
        message = f"{exc.reason}; this path takes {exc.headers.get('Allow', 'no method')}"
    else:
        message = exc.reason
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_answer(exc.status, _HTTP_CODES.get(exc.status, "invalid_request"), message,
                        headers=headers)


def answered_in_json(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` with aiohttp's refusals (no such path, a method the path does not
    take) answered in admin.yaml's error shape: for what no control-plane route matched."""
    async def json_refusals(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return http_error(exc)
    return json_refusals
