"""Cassettes: exchanges with a provider, one JSON object per line.

``musicsim record`` writes them, ``musicsim drift`` reads them against the dialect, and
``musicsim serve --replay`` answers with them. A cassette must be safe to commit next
to a test, so secrets never reach it: header values, JSON members and URL query
parameters whose names say key, token, secret, signature, password or authorization are
replaced by :data:`MASK`. Media is kept as its type, size and SHA-256, never its bytes.

The first line may be a header ``{"cassette": 1, "provider", "upstream", "started"}``;
every other line is one exchange::

    {"seq", "provider", "at", "took",
     "request": {"method", "path", "query", "headers", "text"?},
     "response": {"status", "headers", "text"? | "media"?, "streamed"}}

``path`` is the path inside the provider, ``at`` the wall time the request was sent
(epoch seconds), ``took`` how long the whole answer took. A text body is kept as the
text that went over the wire, after masking, so a replay gives it back byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

VERSION = 1
MASK = "***"
SECRET = re.compile(r"(?i)(api[-_]?key|token|secret|signature|password|authorization|cookie)")
# Headers that describe one connection, not the answer: never recorded or replayed.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length",
                        "content-encoding", "host", "date", "server"})
_TEXT_TYPES = ("application/json", "application/x-ndjson", "application/problem+json",
               "application/xml", "application/javascript", "application/x-www-form-urlencoded")


class CassetteError(ValueError):
    """A cassette that cannot be read: which line, and why."""


@dataclass
class Exchange:
    """One request and the answer it got, as the cassette keeps them."""

    seq: int
    provider: str
    at: float
    took: float
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_text: str | None
    status: int
    response_headers: dict[str, str]
    response_text: str | None = None
    media: dict[str, Any] | None = None  # {"type", "size", "sha256"} instead of the bytes
    streamed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return _media_type(self.response_headers)

    def request_json(self) -> Any:
        return _json_or_none(self.request_text)

    def response_json(self) -> Any:
        """The answer's JSON body, or None (media, NDJSON, not JSON)."""
        if self.response_text is None or "ndjson" in self.content_type:
            return None
        return _json_or_none(self.response_text)

    def key(self) -> tuple[str, str, str, str]:
        return request_key(self.method, self.path, self.query, self.request_text)

    def to_json(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.method, "path": self.path,
                                   "query": self.query, "headers": self.request_headers}
        if self.request_text is not None:
            request["text"] = self.request_text
        response: dict[str, Any] = {"status": self.status, "headers": self.response_headers,
                                    "streamed": self.streamed}
        if self.media is not None:
            response["media"] = self.media
        elif self.response_text is not None:
            response["text"] = self.response_text
        return {"seq": self.seq, "provider": self.provider, "at": self.at, "took": self.took,
                "request": request, "response": response, **self.extra}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> "Exchange":
        request, response = row["request"], row["response"]
        known = {"seq", "provider", "at", "took", "request", "response"}
        return cls(seq=int(row["seq"]), provider=str(row["provider"]), at=float(row["at"]),
                   took=float(row.get("took", 0.0)), method=str(request["method"]).upper(),
                   path=str(request["path"]), query=str(request.get("query", "")),
                   request_headers=dict(request.get("headers") or {}),
                   request_text=request.get("text"), status=int(response["status"]),
                   response_headers=dict(response.get("headers") or {}),
                   response_text=response.get("text"), media=response.get("media"),
                   streamed=bool(response.get("streamed", False)),
                   extra={k: v for k, v in row.items() if k not in known})


@dataclass
class Cassette:
    """A cassette read whole: its header (when it has one) and its exchanges in order."""

    provider: str | None
    upstream: str | None
    exchanges: list[Exchange]


def read(path: str | Path) -> Cassette:
    """Every exchange of the cassette at ``path``; a line that is not an exchange raises
    :class:`CassetteError` naming it."""
    provider = upstream = None
    exchanges: list[Exchange] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"{path}: cannot be read: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            if "cassette" in row:
                provider = row.get("provider") or provider
                upstream = row.get("upstream") or upstream
                continue
            exchanges.append(Exchange.from_json(row))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CassetteError(f"{path}, line {number}: not an exchange "
                                f"({type(exc).__name__}: {exc})") from None
    if provider is None and exchanges:
        provider = exchanges[0].provider
    return Cassette(provider, upstream, exchanges)


class Writer:
    """Appends to a cassette, one flushed line per exchange, so a recording cut short by
    Ctrl-C keeps everything answered so far."""

    def __init__(self, path: str | Path, provider: str, upstream: str, now: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        self._handle = open(self.path, "ab")
        self.seq = 0 if fresh else _last_seq(self.path)
        if fresh:
            self._line({"cassette": VERSION, "provider": provider, "upstream": upstream,
                        "started": now})

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def write(self, exchange: Exchange) -> None:
        self._line(exchange.to_json())

    def close(self) -> None:
        self._handle.close()

    def _line(self, row: dict[str, Any]) -> None:
        self._handle.write(orjson.dumps(row) + b"\n")
        self._handle.flush()


def _last_seq(path: Path) -> int:
    try:
        return max((e.seq for e in read(path).exchanges), default=0)
    except CassetteError:
        return 0


# --- masking -------------------------------------------------------------------------


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping, secrets masked (a repeated header keeps its last value)."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        kept[str(name)] = MASK if SECRET.search(lower) else mask_url(str(value))
    return kept


def mask_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, MASK if SECRET.search(k) else v) for k, v in pairs])


def mask_url(value: str) -> str:
    """A URL with its secret query parameters and any user:password masked."""
    if "://" not in value or ("?" not in value and "@" not in value):
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, mask_query(parts.query), parts.fragment))


def mask_value(value: Any) -> Any:
    """A JSON value with every secret member masked, and secrets inside URLs too."""
    if isinstance(value, dict):
        return {k: (MASK if SECRET.search(k) and v not in (None, "") else mask_value(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def mask_text(text: str, content_type: str) -> str:
    """A text body with its secrets masked; unchanged (byte for byte) when it has none."""
    if "ndjson" in content_type:
        return "\n".join(mask_text(line, "application/json") if line.strip() else line
                         for line in text.split("\n"))
    parsed = _json_or_none(text)
    if parsed is None:
        return text
    masked = mask_value(parsed)
    return text if masked == parsed else orjson.dumps(masked).decode()


# --- bodies ----------------------------------------------------------------------------


def is_text(content_type: str) -> bool:
    """Whether a body of this type is kept as text (else it is media, kept as a digest)."""
    kind = content_type.split(";")[0].strip().lower()
    return not kind or kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json")


def body_text(raw: bytes, content_type: str) -> str | None:
    """A text body as the cassette keeps it (masked), or None when there is none or it is
    not text."""
    if not raw:
        return None
    try:
        return mask_text(raw.decode("utf-8"), content_type)
    except UnicodeDecodeError:
        return None


class Digest:
    """A media body's type, size and SHA-256, taken as its pieces go by."""

    def __init__(self, content_type: str):
        self.type, self.size, self._hash = content_type, 0, hashlib.sha256()

    def update(self, piece: bytes) -> None:
        self.size += len(piece)
        self._hash.update(piece)

    def summary(self) -> dict[str, Any]:
        return {"type": self.type, "size": self.size, "sha256": self._hash.hexdigest()}


def request_key(method: str, path: str, query: str, text: str | None) -> tuple[str, str, str, str]:
    """What makes two requests the same request to a replay: method, path, query (secrets
    masked, order ignored) and body (masked; JSON compared by value, not spacing)."""
    pairs = sorted(parse_qsl(mask_query(query), keep_blank_values=True))
    body = ""
    if text:
        parsed = _json_or_none(text)
        body = text if parsed is None else orjson.dumps(
            mask_value(parsed), option=orjson.OPT_SORT_KEYS).decode()
    return method.upper(), path.rstrip("/") or "/", urlencode(pairs), body


def _media_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
