"""One settings object, from defaults, a TOML file, the environment and flags (in that
order, later ones winning)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .core.faults import check_scenarios, load_scenarios
from .core.ratelimit import Limit as RateLimit
from .core.store import SCHEMES
from .dialects import DIALECTS as PROVIDERS
from .resources import resource_dir


# Requests per second per key, and the burst a full bucket allows. sunor documents 120
# requests a minute per key; the others publish no figure.
DEFAULT_RATE_LIMITS = {"evolink": RateLimit(rate=20.0, burst=40.0),
                       "acedata": RateLimit(rate=20.0, burst=40.0),
                       "openaihk": RateLimit(rate=20.0, burst=40.0),
                       "sunor": RateLimit(rate=2.0, burst=120.0),
                       "orux": RateLimit(rate=20.0, burst=40.0)}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    providers: tuple[str, ...] = PROVIDERS
    clock: str = "fast"
    speed: float | None = None
    seed: int | None = None
    state: str = "memory"
    # Processes serving the port on one shared store (--workers), and which of them this
    # one is (set by the supervisor for each it starts).
    workers: int = 1
    worker: int = 0
    admin_token: str | None = None
    allow_local_callbacks: bool = False
    public_url: str | None = None
    # Host names the control plane answers besides loopback, the bound host and the
    # public URL's (a container reached by its service name).
    allowed_hosts: tuple[str, ...] = ()
    # HTTPS: a local CA (``tls``; its certificate at ``tls_ca``, which alone also turns
    # TLS on), or the user's own certificate and key (``tls_cert`` + ``tls_key``).
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    demo_key: str = "sk-musicsim-demo"
    default_credits: float = 10_000.0
    journal_entries: int = 10_000
    journal_body_bytes: int = 16_384
    media_cache_bytes: int = 256 * 1024 * 1024
    # Finished tasks kept, across every dialect; past it the oldest finished are let go
    # (None: no cap). See core/retention.py.
    max_tasks: int | None = None
    scenario: str | None = None
    # Hold every answer against its spec and log each mismatch (a development aid).
    check_answers: bool = False
    # A cassette (``musicsim record``) whose answers are served in place of simulated ones.
    replay: str | None = None
    extra_scenarios: dict[str, dict] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    rate_limits: dict[str, RateLimit] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls or self.tls_ca or self.tls_cert or self.tls_key)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_enabled else "http"

    def origin(self, port: int | None = None) -> str:
        """``scheme://host:port`` of the server itself (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{self.scheme}://{host}:{self.port if port is None else port}"

    @property
    def base_url(self) -> str:
        """Where callbacks and media links say the simulator is."""
        return (self.public_url or self.origin()).rstrip("/")

    def scenarios(self) -> dict[str, dict]:
        """The named fault scenarios: the built-in ones, then a config file's
        ``[scenarios.NAME]`` tables."""
        return {**load_scenarios(resource_dir("fixtures") / "scenarios.toml"),
                **self.extra_scenarios}

    def price(self, provider: str, item: str) -> float:
        table = self.prices.get(provider, {})
        if item not in table:
            raise KeyError(f"no price for {provider}/{item}")
        return table[item]

    def with_overrides(self, **values: Any) -> "Settings":
        return replace(self, **{k: v for k, v in values.items() if v is not None})


ENV_PREFIX = "MUSICSIM_"
_SCALAR_TYPES = {"port": int, "speed": float, "seed": int, "default_credits": float,
                 "workers": int, "worker": int,
                 "journal_entries": int, "journal_body_bytes": int, "media_cache_bytes": int}


def default_prices() -> dict[str, dict[str, float]]:
    with open(resource_dir("fixtures") / "prices.toml", "rb") as handle:
        return {k: {i: float(p) for i, p in v.items()} for k, v in tomllib.load(handle).items()}


def load(config_file: str | os.PathLike | None = None, env: dict[str, str] | None = None,
         **flags: Any) -> Settings:
    """Settings from the defaults, then ``config_file``, then MUSICSIM_* variables, then flags."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    prices = default_prices()
    rate_limits = dict(DEFAULT_RATE_LIMITS)
    names = {f.name for f in fields(Settings)}
    if config_file:
        data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        for provider, table in data.pop("prices", {}).items():
            prices.setdefault(provider, {}).update({k: float(v) for k, v in table.items()})
        for provider, table in data.pop("rate_limits", {}).items():
            base = rate_limits.get(provider, RateLimit(0.0, 1.0))
            rate_limits[provider] = RateLimit(float(table.get("rate", base.rate)),
                                              float(table.get("burst", base.burst)))
        values["extra_scenarios"] = check_scenarios(data.pop("scenarios", {}), str(config_file))
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{config_file}: unknown setting(s) {', '.join(sorted(unknown))}")
        if "max_tasks" in data:
            data["max_tasks"] = max_tasks_value(data["max_tasks"], f"{config_file}: max_tasks")
        values.update(data)
    for name in names - {"prices", "rate_limits", "extra_scenarios"}:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _from_text(name, raw)
    flags = {k: v for k, v in flags.items() if v is not None}
    if "max_tasks" in flags:
        flags["max_tasks"] = max_tasks_value(flags["max_tasks"], "--max-tasks")
    prices.update(flags.pop("prices", {}))
    rate_limits.update(flags.pop("rate_limits", {}))
    values.update(flags)
    if "allowed_hosts" in values:
        values["allowed_hosts"] = tuple(values["allowed_hosts"])
    if "providers" in values:
        values["providers"] = tuple(values["providers"])
        unknown = set(values["providers"]) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown provider(s) {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(PROVIDERS)}")
    settings = Settings(prices=prices, rate_limits=rate_limits, **values)
    if isinstance(settings.workers, bool) or not isinstance(settings.workers, int) \
            or settings.workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not "
                         f"{settings.workers!r}")
    if settings.workers > 1 and not settings.state.startswith(SCHEMES):
        raise ValueError(f"--workers {settings.workers} needs a state every worker shares: "
                         f"--state sqlite:PATH or --state redis://HOST:PORT/DB (memory is "
                         f"one process's own)")
    if settings.scenario is not None and settings.scenario not in settings.scenarios():
        raise ValueError(f"unknown scenario {settings.scenario!r}; choose from "
                         f"{', '.join(sorted(settings.scenarios()))}")
    return settings


MAX_TASKS_RULE = "must be a whole number of at least 1 (the finished tasks kept)"


def max_tasks_value(value: Any, where: str) -> int:
    """``max_tasks`` from a flag, the environment or a file, refused naming where it came
    from: 0 would keep no finished task, not even one a client is about to read."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} {MAX_TASKS_RULE}, not {value!r}")
    return value


def _from_text(name: str, raw: str) -> Any:
    if name == "max_tasks":
        return max_tasks_value(raw, ENV_PREFIX + "MAX_TASKS")
    if name in ("providers", "allowed_hosts"):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if name in ("allow_local_callbacks", "tls", "check_answers"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return _SCALAR_TYPES.get(name, str)(raw)
