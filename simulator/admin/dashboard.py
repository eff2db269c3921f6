"""GET /_sim/ui: the dashboard, one page of plain HTML, CSS and JavaScript shipped with
the package (no build step, nothing fetched from elsewhere).

The page and its files hold no data, so they are served to anyone who can reach the
port; everything the page shows it reads from the control plane, under its rules (the
admin token, when one is set, travels as an Authorization header on every call). The
security headers keep the page to its own origin: no inline script, no frames.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from .answers import error_answer

UI = "/_sim/ui"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
          ".svg": "image/svg+xml"}
_POLICY = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
           "connect-src 'self'; script-src 'self'; style-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files(__package__) / "static"
    found = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if suffix in _TYPES:
            found[item.name] = (item.read_bytes(), _TYPES[suffix])
    return found


def dashboard_routes() -> list[web.RouteDef]:
    files = _files()

    def answer(name: str) -> web.Response:
        found = files.get(name)
        if found is None:
            return error_answer(404, "not_found", f"the dashboard has no file {name!r}")
        data, kind = found
        charset = "utf-8" if kind != "image/svg+xml" else None
        return web.Response(body=data, content_type=kind, charset=charset, headers=HEADERS)

    async def page(request: web.Request) -> web.Response:
        return answer("index.html")

    async def asset(request: web.Request) -> web.Response:
        return answer(request.match_info["name"])

    return [web.get(UI, page), web.get(UI + "/{name}", asset)]
