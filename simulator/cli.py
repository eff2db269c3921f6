"""The musicsim command: ``serve`` and ``specs``."""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
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
    serve.add_argument("--state", metavar="URL", help="state store: memory (default)")
    serve.add_argument("--admin-token", metavar="T",
                       help="require 'Authorization: Bearer T' on /_sim and accept non-loopback callers")
    serve.add_argument("--allow-local-callbacks", action="store_true", default=None,
                       help="deliver callbacks to http:// and internal addresses (local development)")
    serve.add_argument("--public-url", metavar="URL",
                       help="base URL used in callbacks' media links (default http://HOST:PORT)")
    serve.add_argument("--scenario", metavar="NAME",
                       help="start with a named fault scenario in force (listed below)")
    serve.add_argument("--config", metavar="FILE",
                       help="TOML settings file (prices, rate limits, scenarios, …)")
    serve.add_argument("--log-level", default="warning",
                       choices=("debug", "info", "warning", "error"), help="default warning")

    specs = commands.add_parser("specs", help="list or export the OpenAPI specs",
                                description="The OpenAPI 3.1 documents that define every wire shape.")
    specs_commands = specs.add_subparsers(dest="specs_command", metavar="ACTION", required=True)
    specs_commands.add_parser("list", help="print each spec's id, title and path")
    export = specs_commands.add_parser("export", help="copy every spec into DIR")
    export.add_argument("directory", metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _specs(args)


def _serve(args: argparse.Namespace) -> int:
    from .app import build_app, listening

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load(args.config, host=args.host, port=args.port, providers=args.providers,
                        clock=args.clock, speed=args.speed, seed=args.seed, state=args.state,
                        admin_token=args.admin_token,
                        allow_local_callbacks=args.allow_local_callbacks,
                        public_url=args.public_url, scenario=args.scenario)
        if settings.speed is not None and args.clock is None:
            settings = settings.with_overrides(clock="scaled")
        app = build_app(settings)
    except (ValueError, OSError) as exc:
        print(f"musicsim: {exc}", file=sys.stderr)
        return 2

    def print_banner(port: int) -> None:
        base = f"http://{settings.host}:{port}"
        print(f"musicsim {__version__} on {base}  (clock: {settings.clock})", flush=True)
        for pid in settings.providers:
            print(f"  {pid:<10} {base}/{pid}", flush=True)
        if len(settings.providers) == 1:
            print(f"  (also at the root: {base})", flush=True)
        print(f"  demo API key: {settings.demo_key}", flush=True)
        print(f"  control plane: {base}/_sim/health", flush=True)
        if settings.scenario:
            print(f"  fault scenario: {settings.scenario} (rules: {base}/_sim/faults)", flush=True)

    def started(port: int) -> None:
        listening(app, settings, port)
        print_banner(port)

    return _run(app, settings.host, settings.port, started)


def _run(app, host: str, port: int, banner) -> int:
    import asyncio

    from aiohttp import web

    from .app import runner as serving

    async def main_async() -> None:
        runner = serving(app)
        await runner.setup()
        # A long-lived server holding many tasks: keep start-up objects out of every
        # collection, and collect the young generation less often than the default.
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        site = web.TCPSite(runner, host, port)
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

    from .openapi import spec_ids
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
        shutil.copyfile(folder / f"{sid}.yaml", target / f"{sid}.yaml")
        print(target / f"{sid}.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
