"""Who may use the control plane: one decision, taken before any handler runs.

With an admin token, the token alone decides, from anywhere. Without one, the caller must
be on loopback, and since a web page can make a loopback caller of any browser, two more
rules keep pages out: the ``Host`` must be one the simulator serves (a page whose name was
rebound to 127.0.0.1 still sends its own name), and an ``Origin``, which browsers send on
every cross-site write, must be the simulator's own. curl and SDKs send no ``Origin``.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from aiohttp import hdrs, web
from yarl import URL

from ..config import Settings
from ..core.addresses import loopback_name

WILDCARDS = frozenset({"0.0.0.0", "::", ""})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Refusal:
    """Why a request may not use the control plane, in admin.yaml's error terms."""

    status: int
    code: str
    message: str
    param: str | None = None


class Access:
    def __init__(self, settings: Settings):
        self.token = settings.admin_token
        self.hosts = {_host_name(h) for h in (settings.host, *settings.allowed_hosts)
                      if h not in WILDCARDS}
        self.any_address = settings.host in WILDCARDS  # bound everywhere: every address is ours
        self.public = _origin(URL(settings.public_url)) if settings.public_url else None
        if self.public is not None:
            self.hosts.add(self.public[1])

    def refusal(self, request: web.Request) -> Refusal | None:
        if self.token:
            given = request.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return None
            return Refusal(401, "unauthorized", "send Authorization: Bearer ADMIN_TOKEN",
                           "Authorization")
        if not _is_loopback(request.remote):
            return Refusal(403, "forbidden", "the control plane answers loopback callers "
                                             "only; start with --admin-token to open it")
        host = _request_host(request)
        if host is not None and not self._serves(host):
            return Refusal(403, "forbidden",
                           f"Host {request.host!r} is not one this simulator serves; name it "
                           f"with --allowed-host, or send the admin token", "Host")
        origin = request.headers.get("Origin")
        if origin is not None and not self._own(origin, request):
            return Refusal(403, "forbidden",
                           f"Origin {origin!r} is another site; the control plane answers "
                           f"pages of its own origin only, or calls with the admin token",
                           "Origin")
        return None

    def _serves(self, host: str) -> bool:
        if loopback_name(host) or host in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or self.any_address

    def _own(self, origin: str, request: web.Request) -> bool:
        try:
            given = _origin(URL(origin))
        except ValueError:
            return False
        if given is None:
            return False  # "null", or no scheme and host: an opaque origin
        served = _origin(URL.build(scheme=request.scheme, authority=request.host))
        return given in (served, self.public)


def _origin(url: URL) -> tuple[str, str, int | None] | None:
    if not url.scheme or not url.host:
        return None
    return url.scheme, _host_name(url.host), url.port or DEFAULT_PORTS.get(url.scheme)


def _host_name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _request_host(request: web.Request) -> str | None:
    """The host the request's ``Host`` header names, without its port, or None when it
    sends none (an HTTP/1.0 client: browsers always send one). A header no URL could
    hold names itself, and so is served by nobody."""
    given = request.headers.get(hdrs.HOST)
    if given is None:
        return None
    try:
        host = URL.build(scheme="http", authority=given).host
    except (ValueError, TypeError):
        return given
    return _host_name(host) if host else given


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False
