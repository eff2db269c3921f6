"""The commands that hold other servers and recordings against the dialects:
``conformance``, ``record`` and ``drift``. Each imports the conformance package only when
it runs, so ``musicsim serve`` starts without it."""

from __future__ import annotations

import argparse
import sys

from .config import PROVIDERS


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

EPILOG_RECORD = """\
examples:
  musicsim record --provider evolink --upstream https://api.evolink.ai --cassette evolink.jsonl
      then point the client at http://127.0.0.1:8001 with its real key, and Ctrl-C when done
  musicsim record --provider sunor --upstream http://127.0.0.1:8000/sunor --port 0

Then: musicsim drift evolink.jsonl, or musicsim serve --replay evolink.jsonl.
"""

EPILOG_DRIFT = """\
examples:
  musicsim drift evolink.jsonl
  musicsim drift evolink.jsonl --suggest --json drift.json
  musicsim drift sim.jsonl --speed 50 --timing      a simulator recorded at --speed 50

The exit status is 1 when anything differs in shape, status, status words or their order
(and timing, with --timing); 0 when nothing does; 2 when the cassette cannot be read.
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


def add_parsers(commands) -> None:
    """Adds ``conformance``, ``record`` and ``drift`` to the musicsim parser."""
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
    gateway.add_argument("--record", metavar="CASSETTE",
                         help="send the run through a recording proxy into CASSETTE, then "
                              "print the drift report of what the service answered")
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

    record = commands.add_parser(
        "record", help="a proxy in front of a provider that keeps every exchange in a cassette",
        description="Forward every request to UPSTREAM (a real provider's base URL, or any "
                    "server of the dialect) and hand back its answer unchanged, streams "
                    "included. Each exchange is appended to the cassette (JSON lines; keys, "
                    "tokens, signatures and secrets masked; media as type, size and hash) "
                    "and held against the dialect: each difference is logged as it comes.",
        epilog=EPILOG_RECORD, formatter_class=argparse.RawDescriptionHelpFormatter)
    record.add_argument("--provider", required=True, choices=PROVIDERS, metavar="ID",
                        help=f"the dialect the upstream speaks: {', '.join(PROVIDERS)}")
    record.add_argument("--upstream", required=True, metavar="URL",
                        help="the provider's base URL, e.g. https://api.evolink.ai")
    record.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    record.add_argument("--port", type=int, default=8001,
                        help="port to bind (default 8001; 0 picks a free one)")
    record.add_argument("--cassette", metavar="FILE",
                        help="where exchanges are appended (default: ./PROVIDER.jsonl)")

    drift = commands.add_parser(
        "drift", help="hold a cassette against the dialect and report every difference",
        description="Check each recorded answer against specs/<id>.yaml (operation, status, "
                    "fields, error shape), the dialect's status words and their forward-only "
                    "order, and each task's timing against the simulator's lifecycle for the "
                    "same request.", epilog=EPILOG_DRIFT,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    drift.add_argument("cassette", metavar="CASSETTE")
    drift.add_argument("--json", dest="json_report", metavar="FILE",
                       help="write the findings as JSON")
    drift.add_argument("--suggest", action="store_true",
                       help="print the spec changes that would make the simulator agree")
    drift.add_argument("--timing", action="store_true",
                       help="let timing differences change the exit status too")
    drift.add_argument("--speed", type=float, default=1.0, metavar="X",
                       help="the recorded service's pace against the real one, for the timing "
                            "(default 1: a real provider; 50 for a simulator at --speed 50)")
    drift.add_argument("--shapes-only", dest="shadow", action="store_false",
                       help="skip what needs the simulator's own lifecycle (timing, skipped "
                            "states): no simulator is started")

def conformance(args: argparse.Namespace) -> int:
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
            receiver_tls_ca=args.receiver_tls_ca, record=args.record)
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


def record(args: argparse.Namespace) -> int:
    from conformance import recorder

    cassette = args.cassette or f"{args.provider}.jsonl"
    try:
        return recorder.main(args.provider, args.upstream, args.port, cassette, args.host)
    except OSError as exc:
        print(f"musicsim: cannot record: {exc}", file=sys.stderr)
        return 2


def drift(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console

    from conformance.drift import analyze
    from conformance.drift import report

    from .cassette import CassetteError, read

    try:
        cassette = read(args.cassette)
    except CassetteError as exc:
        print(f"musicsim: {exc}", file=sys.stderr)
        return 2
    if cassette.provider not in PROVIDERS:
        print(f"musicsim: {args.cassette}: no exchange of a known provider "
              f"({', '.join(PROVIDERS)})", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("musicsim: --speed must be above 0", file=sys.stderr)
        return 2
    analysis = asyncio.run(analyze(cassette, speed=args.speed, shadow=args.shadow))
    report.print_report(Console(), analysis, timing=args.timing, suggest=args.suggest)
    if args.json_report:
        report.write_json(args.json_report, analysis, timing=args.timing)
    return report.exit_status(analysis, timing=args.timing)
