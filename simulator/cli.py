"""The musicsim command: ``serve``, ``record``, ``drift``, ``conformance``, ``state`` and
``specs``."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import textwrap
from pathlib import Path

from . import __version__
from . import cli_checks as checks
from . import cli_state
from .config import MAX_TASKS_RULE, PROVIDERS, load, max_tasks_value
from .core.faults import load_scenarios
from .core.magic import MAGIC_VALUES
from .resources import resource_dir

EPILOG_SERVE = """\
examples:
  musicsim serve                              every provider, fast clock, port 8000
  musicsim serve --provider evolink --port 9000
  musicsim serve --clock manual --seed 42     deterministic: time moves only via /_sim/clock/advance
  musicsim serve --scenario flaky --seed 7    an upstream on a bad day, the same bad day every run
  musicsim serve --replay evolink.jsonl       what a real provider answered, the rest simulated
  musicsim serve --tls                        HTTPS; the local CA is ./musicsim-ca.pem (trust it:
                                              curl --cacert musicsim-ca.pem, SSL_CERT_FILE=…)

Each provider is served at http://HOST:PORT/{provider}; with exactly one --provider it is
also served at the root. Settings may also come from MUSICSIM_* environment variables
(e.g. MUSICSIM_PORT=9000) or a TOML --config file; flags win.

magic values (put one in a prompt, style or title to steer that task):
""" + "\n".join(f"  {marker:<24}{effect}" for marker, effect in MAGIC_VALUES.items()) + """

fault scenarios (--scenario NAME, or POST /_sim/scenarios/NAME; rules: GET /_sim/scenarios):
""" + "\n".join(f"  {name:<24}{textwrap.shorten(scenario.get('description', ''), 60)}"
                for name, scenario in load_scenarios(resource_dir("fixtures") / "scenarios.toml").items())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musicsim", description="A local, faithful simulator of hosted music-generation APIs.")
    parser.add_argument("--version", action="version", version=f"musicsim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run the simulator", epilog=EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve every selected provider's API, the /_sim control plane and /media.")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000; 0 picks a free one)")
    serve.add_argument("--provider", dest="providers", action="append", choices=PROVIDERS,
                       metavar="ID", help=f"serve only this provider; repeatable ({', '.join(PROVIDERS)})")
    serve.add_argument("--clock", choices=("fast", "realtime", "manual"),
                       help="fast (default: a song in about 10 s), realtime, or manual "
                            "(time moves only through POST /_sim/clock/advance)")
    serve.add_argument("--speed", type=float, metavar="X",
                       help="run simulated time X times faster than real time")
    serve.add_argument("--seed", type=int, metavar="N",
                       help="seed ids, timings and media so a run can be repeated exactly")
    serve.add_argument("--state", metavar="URL",
                       help="where state is kept: memory (default: fresh at each start), "
                            "sqlite:PATH (a file that survives restarts and kill -9), "
                            "redis://HOST:PORT/DB (shared by any number of processes and "
                            "hosts), or memory+copies (memory handing out copies, as a "
                            "store in another process would; for testing)")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="serve the port from N processes (needs --state sqlite:… or "
                            "redis://…)")
    serve.add_argument("--admin-token", metavar="T",
                       help="require 'Authorization: Bearer T' on /_sim and accept non-loopback callers")
    serve.add_argument("--allow-local-callbacks", action="store_true", default=None,
                       help="deliver callbacks to http:// and internal addresses (local development)")
    serve.add_argument("--allowed-host", dest="allowed_hosts", action="append", metavar="H",
                       help="also answer the control plane for requests naming host H "
                            "(repeatable; loopback names, --host and --public-url's host "
                            "always are), e.g. a container's service name "
                            "(MUSICSIM_ALLOWED_HOSTS=a,b)")
    serve.add_argument("--public-url", metavar="URL",
                       help="base URL used in callbacks' media links (default http://HOST:PORT, "
                            "https:// with TLS)")
    tls = serve.add_argument_group(
        "HTTPS", "--tls [--tls-ca PATH] | --tls-cert FILE --tls-key FILE\n"
                 "With either, every link the dialects hand out reads https://; callbacks to\n"
                 "https:// receivers trust the local CA in addition to the system's store.\n"
                 "Environment and --config: MUSICSIM_TLS=1, MUSICSIM_TLS_CA, MUSICSIM_TLS_CERT,\n"
                 "MUSICSIM_TLS_KEY; tls, tls_ca, tls_cert, tls_key.")
    tls.add_argument("--tls", action="store_true", default=None,
                     help="serve HTTPS with a certificate from a local certificate authority, "
                          "made on first use and reused after (for 127.0.0.1, ::1, localhost "
                          "and --host)")
    tls.add_argument("--tls-ca", metavar="PATH",
                     help="the local CA's certificate (implies --tls; default "
                          "./musicsim-ca.pem); its private key is kept beside it in "
                          "NAME-key.pem (mode 0600). Trust PATH in clients: curl --cacert "
                          "PATH, SSL_CERT_FILE=PATH, REQUESTS_CA_BUNDLE=PATH")
    tls.add_argument("--tls-cert", metavar="FILE",
                     help="serve HTTPS with your own PEM certificate (chain) instead; needs "
                          "--tls-key")
    tls.add_argument("--tls-key", metavar="FILE", help="the unencrypted PEM key of --tls-cert")
    serve.set_defaults(usage_error=serve.error)
    serve.add_argument("--max-tasks", type=_max_tasks, metavar="N",
                       help="keep at most N finished tasks, across every provider: past it "
                            "the oldest finished are let go and answer as unknown ones do "
                            "(default: no cap; MUSICSIM_MAX_TASKS, max_tasks = N). Running "
                            "tasks are never let go; results past a provider's retention "
                            "are let go a simulated day after they expire, with or "
                            "without it")
    serve.add_argument("--scenario", metavar="NAME",
                       help="start with a named fault scenario in force (listed below)")
    serve.add_argument("--check-answers", action="store_true", default=None,
                       help="hold every answer against its spec (status, content type, "
                            "JSON body) and log each mismatch as a WARNING; for developing "
                            "the simulator or its specs (MUSICSIM_CHECK_ANSWERS=1, "
                            "check_answers = true)")
    serve.add_argument("--replay", metavar="CASSETTE",
                       help="answer the requests a cassette (musicsim record) holds with "
                            "its recorded answers, byte for byte: the n-th repeat of a "
                            "request gets the n-th answer, then the last again; the rest "
                            "is simulated (MUSICSIM_REPLAY, replay = \"FILE\")")
    serve.add_argument("--config", metavar="FILE",
                       help="TOML settings file (prices, rate limits, scenarios, …)")
    serve.add_argument("--log-level", default="warning",
                       choices=("debug", "info", "warning", "error"), help="default warning")

    checks.add_parsers(commands)
    cli_state.add_parsers(commands)

    specs = commands.add_parser("specs", help="list or export the OpenAPI specs",
                                description="The OpenAPI 3.1 documents that define every wire shape.")
    specs_commands = specs.add_subparsers(dest="specs_command", metavar="ACTION", required=True)
    specs_commands.add_parser("list", help="print each spec's id, title and path")
    export = specs_commands.add_parser("export", help="write every spec, as served, into DIR")
    export.add_argument("directory", metavar="DIR")
    return parser


def _max_tasks(text: str) -> int:
    """--max-tasks, refused the way argparse refuses any bad flag: usage, the reason,
    exit status 2."""
    try:
        return max_tasks_value(text, "--max-tasks")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{MAX_TASKS_RULE}, not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        command = {"serve": _serve, "conformance": checks.conformance, "record": checks.record,
                   "drift": checks.drift, "state": cli_state.state}.get(args.command, _specs)
        return command(args)
    except ModuleNotFoundError as exc:
        # Commands import what they use when they run; a package missing from a broken
        # install is named, with the way to mend it, rather than shown as a traceback.
        print(f"musicsim needs the Python package {exc.name!r}, which is not installed; "
              f"reinstall musicsim (pip install musicsim)", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    from . import workers
    from .app import REPLAY, TLS, build_app, listening
    from .tls import TLSError, trust_hint

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load(args.config, host=args.host, port=args.port, providers=args.providers,
                        clock=args.clock, speed=args.speed, seed=args.seed, state=args.state,
                        admin_token=args.admin_token,
                        allow_local_callbacks=args.allow_local_callbacks,
                        public_url=args.public_url, allowed_hosts=args.allowed_hosts,
                        scenario=args.scenario, max_tasks=args.max_tasks,
                        check_answers=args.check_answers, tls=args.tls, tls_ca=args.tls_ca,
                        tls_cert=args.tls_cert, tls_key=args.tls_key, replay=args.replay,
                        workers=args.workers)
        if settings.speed is not None and args.clock is None:
            settings = settings.with_overrides(clock="scaled")
        app = build_app(settings)
    except TLSError as exc:
        args.usage_error(str(exc))  # argparse's form: usage, the reason, exit status 2
    except (ValueError, OSError) as exc:
        print(f"musicsim: {exc}", file=sys.stderr)
        return 2

    def print_banner(port: int) -> None:
        base = settings.origin(port)
        print(f"musicsim {__version__} on {base}  (clock: {settings.clock})", flush=True)
        tls = app[TLS]
        if tls is not None and tls.ca_path is not None:
            made = "made now" if tls.created else "reused"
            print(f"  TLS certificate authority ({made}): {tls.ca_path}  "
                  f"(its key: {tls.ca_key_path})", flush=True)
            print(f"  {trust_hint(tls.ca_path)}", flush=True)
        elif tls is not None:
            print(f"  TLS certificate: {tls.cert_path}", flush=True)
        for pid in settings.providers:
            print(f"  {pid:<10} {base}/{pid}", flush=True)
        if len(settings.providers) == 1:
            print(f"  (also at the root: {base})", flush=True)
        if settings.check_answers:
            print("  answers checked against specs/: each mismatch is logged as a WARNING",
                  flush=True)
        print(f"  demo API key: {settings.demo_key}", flush=True)
        if settings.state != "memory":
            workers_note = f", served by {settings.workers} processes" \
                if settings.workers > 1 else ""
            print(f"  state: {settings.state}{workers_note}", flush=True)
        print(f"  control plane: {base}/_sim/health", flush=True)
        print(f"  dashboard: {base}/_sim/ui", flush=True)
        if settings.scenario:
            print(f"  fault scenario: {settings.scenario} (rules: {base}/_sim/faults)", flush=True)
        replay = app[REPLAY]
        if replay is not None:
            print(f"  replaying {replay.path} ({replay.exchanges} recorded "
                  f"exchange{'' if replay.exchanges == 1 else 's'}); the rest is simulated",
                  flush=True)

    def started(port: int) -> None:
        listening(app, settings, port)
        print_banner(port)

    def ready(port: int) -> None:
        """A supervised worker's word that it serves (the supervisor prints the banner)."""
        listening(app, settings, port)
        print(f"{workers.READY} {settings.worker}", flush=True)

    supervised = settings.workers > 1
    if supervised and not workers.is_worker():
        return workers.supervise(settings.host, settings.port, settings.workers, started)
    return _run(app, settings.host, settings.port, ready if supervised else started,
                ssl_context=app[TLS].context if app[TLS] is not None else None,
                reuse_port=supervised)


def _run(app, host: str, port: int, banner, ssl_context=None, reuse_port: bool = False) -> int:
    import asyncio

    from aiohttp import web

    from .app import runner as serving

    async def main_async() -> None:
        runner = serving(app)
        await runner.setup()
        # A long-lived server holding many tasks: keep start-up objects out of every
        # collection, and collect far less often than the default. Under load most
        # young objects then die before a collection looks at them; a whole collection
        # walks every task, so it waits for a hundred of the middle one.
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context,
                           reuse_port=reuse_port or None)
        await site.start()
        banner(runner.addresses[0][1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)  # Ctrl-C or kill: shut down cleanly
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main_async())
    except KeyboardInterrupt:
        pass
    except ValueError as exc:  # a state store that cannot be reached or read
        print(f"musicsim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        print(f"musicsim: cannot serve on {where}: {exc}", file=sys.stderr)
        return 2
    return 0


def _specs(args: argparse.Namespace) -> int:
    import yaml

    from .openapi import load_spec, spec_ids
    from .resources import resource_dir

    folder = resource_dir("specs")
    if args.specs_command == "list":
        for sid in spec_ids():
            path = folder / f"{sid}.yaml"
            title = yaml.safe_load(path.read_text(encoding="utf-8")).get("info", {}).get("title", "")
            print(f"{sid:<10} {title}  ({path})")
        return 0
    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    for sid in spec_ids():
        # As served: with what the document's own extensions imply (nullable optionals).
        served = yaml.safe_dump(load_spec(sid).served, sort_keys=False, allow_unicode=True)
        (target / f"{sid}.yaml").write_text(served, encoding="utf-8")
        print(target / f"{sid}.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
