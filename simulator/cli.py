"""The musicsim command: ``serve``, ``conformance`` and ``specs``."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import textwrap
from pathlib import Path

from . import __version__
from .config import PROVIDERS, load
from .core.faults import load_scenarios
from .core.magic import MAGIC_VALUES
from .resources import resource_dir

EPILOG_SERVE = """\
examples:
  musicsim serve                              every provider, fast clock, port 8000
  musicsim serve --provider evolink --port 9000
  musicsim serve --clock manual --seed 42     deterministic: time moves only via /_sim/clock/advance
  musicsim serve --scenario flaky --seed 7    an upstream on a bad day, the same bad day every run
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
                       help="state store: memory (default), or memory+copies, which hands "
                            "out copies as a store in another process would (slower; for "
                            "testing what relies on the store)")
    serve.add_argument("--admin-token", metavar="T",
                       help="require 'Authorization: Bearer T' on /_sim and accept non-loopback callers")
    serve.add_argument("--allow-local-callbacks", action="store_true", default=None,
                       help="deliver callbacks to http:// and internal addresses (local development)")
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
    serve.add_argument("--scenario", metavar="NAME",
                       help="start with a named fault scenario in force (listed below)")
    serve.add_argument("--check-answers", action="store_true", default=None,
                       help="hold every answer against its spec (status, content type, "
                            "JSON body) and log each mismatch as a WARNING; for developing "
                            "the simulator or its specs (MUSICSIM_CHECK_ANSWERS=1, "
                            "check_answers = true)")
    serve.add_argument("--config", metavar="FILE",
                       help="TOML settings file (prices, rate limits, scenarios, …)")
    serve.add_argument("--log-level", default="warning",
                       choices=("debug", "info", "warning", "error"), help="default warning")

    _conformance_parser(commands)

    specs = commands.add_parser("specs", help="list or export the OpenAPI specs",
                                description="The OpenAPI 3.1 documents that define every wire shape.")
    specs_commands = specs.add_subparsers(dest="specs_command", metavar="ACTION", required=True)
    specs_commands.add_parser("list", help="print each spec's id, title and path")
    export = specs_commands.add_parser("export", help="write every spec, as served, into DIR")
    export.add_argument("directory", metavar="DIR")
    return parser


EPILOG_GATEWAY = """\
examples:
  musicsim conformance gateway --provider evolink --base-url http://127.0.0.1:8000/evolink \\
      --api-key sk-musicsim-demo
  musicsim conformance gateway --provider sunor --base-url https://gateway.example/sunor \\
      --api-key $KEY --upstream-admin http://127.0.0.1:8000/_sim --junit report.xml
  musicsim conformance gateway --provider orux ... --cases 'auth.*' --cases 'orux.callbacks.*'

Cases whose needs the run cannot meet (a second key, the upstream simulator's control
plane, a budget) are reported as skipped with the reason. The exit status is 0 only when
no selected case failed; 1 when one did; 2 for bad arguments.
"""

EPILOG_CLIENT = """\
examples:
  musicsim conformance client --provider evolink -- python my_client.py
  musicsim conformance client --provider orux --scenario failing-tasks -- ./client.sh

The client runs with MUSICSIM_BASE_URL (the provider's base URL), MUSICSIM_API_KEY (a
fresh key with credits), MUSICSIM_PROVIDER and MUSICSIM_CALLBACK_SECRET (orux's webhook
secret) in its environment, against a simulator on a fast clock started for the run.
It is then graded from the simulator's journal.
"""


def _conformance_parser(commands) -> None:
    from conformance.dialects import DIALECTS

    conformance = commands.add_parser(
        "conformance", help="check a gateway or a client against a dialect",
        description="Run the conformance catalog against a gateway, or grade a client.")
    kinds = conformance.add_subparsers(dest="conformance_command", metavar="ACTION", required=True)

    gateway = kinds.add_parser(
        "gateway", help="run the case catalog against a server that speaks a dialect",
        epilog=EPILOG_GATEWAY, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the dialect's case catalog against BASE-URL: the simulator, a real "
                    "provider, or a gateway in front of either.")
    gateway.add_argument("--provider", required=True, choices=DIALECTS, metavar="ID",
                         help=f"the dialect ({', '.join(DIALECTS)})")
    gateway.add_argument("--base-url", required=True, metavar="URL",
                         help="where the dialect's paths start, e.g. http://127.0.0.1:8000/evolink")
    gateway.add_argument("--api-key", required=True, metavar="KEY")
    gateway.add_argument("--cases", action="append", metavar="GLOB",
                         help="run only cases whose id matches (repeatable; e.g. 'auth.*')")
    gateway.add_argument("--upstream-admin", metavar="URL",
                         help="control plane of the simulator behind the gateway "
                              "(http://HOST:PORT/_sim): enables the upstream-fault cases")
    gateway.add_argument("--admin-token", metavar="T", help="bearer token for that control plane")
    gateway.add_argument("--second-api-key", metavar="KEY",
                         help="another key of the same service, for the isolation cases "
                              "(made automatically when the target is a simulator)")
    gateway.add_argument("--webhook-secret", metavar="S",
                         help="the secret the target signs callbacks with (orux; read from "
                              "the simulator when the target is one)")
    gateway.add_argument("--max-credits", type=float, metavar="N",
                         help="spend at most N credits; cases past it are skipped")
    gateway.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    gateway.add_argument("--json", dest="json_report", metavar="FILE", help="write a JSON report")
    gateway.add_argument("--timeout", type=float, default=600.0, metavar="S",
                         help="how long a task may take to finish (default 600)")
    gateway.add_argument("--poll-every", type=float, metavar="S",
                         help="seconds between polls of a task (default 2; 0.1 while the "
                              "runner drives a simulator's clock)")
    gateway.add_argument("--clock-speed", type=float, default=50.0, metavar="X",
                         help="when the runner controls the simulator serving the tasks "
                              "(the target itself, or --upstream-admin), it runs that "
                              "simulator's clock at X times real time for the run and sets it "
                              "back afterwards (default 50; 0 leaves the clock alone)")
    gateway.add_argument("--callback-wait", type=float, default=60.0, metavar="S",
                         help="how long after a task ends its last callback may take (default 60)")
    gateway.add_argument("--concurrency", type=int, metavar="N",
                         help="cases run at once (default 4; 8 while the runner drives a "
                              "simulator's clock)")
    gateway.add_argument("--receiver-host", default="127.0.0.1", metavar="HOST",
                         help="address of the callback receiver the target posts to")
    gateway.add_argument("--receiver-tls-ca", metavar="PATH",
                         help="the simulator's CA file (serve --tls-ca; its key beside it): "
                              "the receiver serves HTTPS with a certificate from that CA, so "
                              "callback URLs read https://, and the runner trusts the CA for "
                              "the target too (other CAs: SSL_CERT_FILE)")
    gateway.set_defaults(usage_error=gateway.error)

    client = kinds.add_parser(
        "client", help="run a client against a simulator and grade what it did",
        epilog=EPILOG_CLIENT, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start a simulator, run COMMAND against it, and grade the client from "
                    "the request journal.")
    client.add_argument("--provider", required=True, choices=DIALECTS, metavar="ID",
                        help=f"the dialect the client speaks ({', '.join(DIALECTS)})")
    client.add_argument("--scenario", metavar="NAME",
                        help="a fault scenario in force while the client runs (see "
                             "'musicsim serve --help')")
    client.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="how long the client may run (default 300)")
    client.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    client.add_argument("--json", dest="json_report", metavar="FILE", help="write a JSON report")
    client.add_argument("client_command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS…]")

    listing = kinds.add_parser("list", help="print a dialect's case catalog")
    listing.add_argument("--provider", required=True, choices=DIALECTS, metavar="ID")
    listing.add_argument("--cases", action="append", metavar="GLOB")


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        command = {"serve": _serve, "conformance": _conformance}.get(args.command, _specs)
        return command(args)
    except ModuleNotFoundError as exc:
        # Commands import what they use when they run; a package missing from a broken
        # install is named, with the way to mend it, rather than shown as a traceback.
        print(f"musicsim needs the Python package {exc.name!r}, which is not installed; "
              f"reinstall musicsim (pip install musicsim)", file=sys.stderr)
        return 2


def _conformance(args: argparse.Namespace) -> int:
    if args.conformance_command == "list":
        from conformance.dialects import catalog

        for case in catalog(args.provider).select(args.cases):
            needs = f"  [needs {', '.join(sorted(case.needs))}]" if case.needs else ""
            print(f"{case.id:<48} {case.title}{needs}")
        return 0
    if args.conformance_command == "gateway":
        from conformance import gateway

        options = gateway.GatewayCheck(
            args.provider, args.base_url, args.api_key, cases=args.cases or [],
            upstream_admin=args.upstream_admin, admin_token=args.admin_token,
            second_api_key=args.second_api_key, max_credits=args.max_credits,
            timeout=args.timeout, poll_every=args.poll_every, concurrency=args.concurrency,
            callback_wait=args.callback_wait, clock_speed=args.clock_speed,
            receiver_host=args.receiver_host, webhook_secret=args.webhook_secret,
            receiver_tls_ca=args.receiver_tls_ca)
        if args.receiver_tls_ca:
            from .tls import TLSError, load_ca

            try:
                load_ca(args.receiver_tls_ca, "--receiver-tls-ca")
            except TLSError as exc:
                args.usage_error(str(exc))
        return gateway.main(options, args.junit, args.json_report)
    from conformance import client

    command = args.client_command
    command = command[1:] if command[:1] == ["--"] else command
    if not command:
        print("musicsim: conformance client needs a command after --", file=sys.stderr)
        return 2
    return client.main(args.provider, command, scenario=args.scenario, timeout=args.timeout,
                       junit=args.junit, json_path=args.json_report)


def _serve(args: argparse.Namespace) -> int:
    from .app import TLS, build_app, listening
    from .tls import TLSError, trust_hint

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load(args.config, host=args.host, port=args.port, providers=args.providers,
                        clock=args.clock, speed=args.speed, seed=args.seed, state=args.state,
                        admin_token=args.admin_token,
                        allow_local_callbacks=args.allow_local_callbacks,
                        public_url=args.public_url, scenario=args.scenario,
                        check_answers=args.check_answers, tls=args.tls, tls_ca=args.tls_ca,
                        tls_cert=args.tls_cert, tls_key=args.tls_key)
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
        print(f"  control plane: {base}/_sim/health", flush=True)
        if settings.scenario:
            print(f"  fault scenario: {settings.scenario} (rules: {base}/_sim/faults)", flush=True)

    def started(port: int) -> None:
        listening(app, settings, port)
        print_banner(port)

    return _run(app, settings.host, settings.port, started,
                ssl_context=app[TLS].context if app[TLS] is not None else None)


def _run(app, host: str, port: int, banner, ssl_context=None) -> int:
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
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
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
    except OSError as exc:
        print(f"musicsim: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
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
