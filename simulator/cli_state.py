"""``musicsim state export|import``: save a running simulator's state to a file, or load
one into it, over its control plane (``GET``/``POST /_sim/state``).

It talks HTTP with the standard library alone, so it works on any install, and every
failure (a server that does not answer, a file that cannot be read, a refusal) is one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
# How long one call may take: a state of many tasks is a few MiB each way.
TIMEOUT = 120.0

EPILOG = """\
examples:
  musicsim state export before.json                  the default sandbox of :8000
  musicsim state export - --key sk-mine > mine.json  only that key's account, tasks, personas
  musicsim state import fixtures/three-songs.json --sandbox sb_1
  musicsim state import before.json --url http://sim:8000 --admin-token T

A file holds accounts and balances, finished tasks (songs, uploads, …) with the recipes
their media is made from, personas and fault rules; importing replaces the sandbox's
state with it and puts its clock at the file's moment. FILE - is stdout or stdin.
The exit status is 0 on success and 2 on any failure.
"""


class Failure(Exception):
    """What went wrong, in one line for the user."""


def add_parsers(commands) -> None:
    """Adds ``state`` (``export``, ``import``) to the musicsim parser."""
    state = commands.add_parser(
        "state", help="save or load a running simulator's state (a state file)",
        description="Save a running simulator's state to a file, or load one into it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the state to FILE",
                                description="Write a sandbox's state to FILE (- for stdout).")
    export.add_argument("file", metavar="FILE")
    export.add_argument("--name", help="a name to write into the file")
    export.add_argument("--key", dest="keys", action="append", metavar="API_KEY",
                        help="only this key's account, tasks and personas (repeatable); "
                             "for a file to load into another sandbox")
    load = actions.add_parser("import", help="replace the state with FILE's",
                              description="Replace a sandbox's state with FILE's "
                                          "(- for stdin).")
    load.add_argument("file", metavar="FILE")
    load.add_argument("--key-suffix", metavar="S",
                      help="load each key K of the file as K-S, so one file can be "
                           "loaded into many sandboxes at once")
    for action in (export, load):
        action.add_argument("--url", default=DEFAULT_URL,
                            help=f"the simulator's base URL (default {DEFAULT_URL})")
        action.add_argument("--sandbox", metavar="ID",
                            help="a sandbox made with POST /_sim/sandboxes (default: the "
                                 "server's own)")
        action.add_argument("--admin-token", metavar="T",
                            help="the control plane's token, for a server started with one")


def state(args: argparse.Namespace) -> int:
    try:
        if args.state_command == "export":
            query = [("name", args.name)] if args.name else []
            query += [("api_key", key) for key in args.keys or ()]
            document = _call(args, "GET", "/state", query=query)
            _write(args.file, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
            if args.file != "-":
                print(f"saved {len(document['tasks'])} task(s), {len(document['accounts'])} "
                      f"account(s) to {args.file}", file=sys.stderr)
        else:
            query = [("key_suffix", args.key_suffix)] if args.key_suffix else []
            loaded = _call(args, "POST", "/state", body=_read(args.file), query=query)
            renamed = {k: v for k, v in loaded["keys"].items() if k != v}
            print(f"loaded {loaded['accounts']} account(s), {loaded['tasks']} task(s), "
                  f"{loaded['personas']} persona(s), {loaded['faults']} fault rule(s); "
                  f"clock at {loaded['clock']['now']}"
                  + "".join(f"; {k} as {v}" for k, v in renamed.items()), file=sys.stderr)
    except Failure as exc:
        print(f"musicsim state {args.state_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _read(path: str) -> bytes:
    """The file's bytes, once they are known to be a JSON object (the server checks the
    rest, naming the member at fault)."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Failure(f"{path} is not a JSON state file: {exc}") from None
    if not isinstance(document, dict):
        raise Failure(f"{path} is not a JSON state file: it holds no object")
    return raw


def _write(path: str, text: str) -> None:
    try:
        if path == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
    except OSError as exc:
        raise Failure(f"cannot write {path}: {exc.strerror or exc}") from None


def _call(args: argparse.Namespace, method: str, path: str, body: bytes | None = None,
          query: list[tuple[str, str]] | None = None) -> Any:
    base = args.url.rstrip("/") + "/_sim"
    if args.sandbox:
        base += "/sandboxes/" + urllib.parse.quote(args.sandbox, safe="")
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if args.admin_token:
        headers["Authorization"] = f"Bearer {args.admin_token}"
    try:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise Failure(_refusal(exc)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Failure(f"no simulator answered at {args.url} ({reason}); start one with "
                      f"`musicsim serve` or pass --url") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise Failure(f"{url} answered something that is not JSON; is --url a musicsim "
                      f"server?") from None


def _refusal(exc: urllib.error.HTTPError) -> str:
    """The control plane's refusal in one line: its status, message and the member."""
    try:
        error = json.loads(exc.read())["error"]
        where = f" ({error['param']})" if error.get("param") else ""
        return f"refused with {exc.code}: {error['message']}{where}"
    except (ValueError, KeyError, TypeError, OSError):
        return f"refused with {exc.code} {exc.reason}"
