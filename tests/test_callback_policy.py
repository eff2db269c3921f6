"""Where a callback may go, judged on the address actually dialled: names are looked up at
delivery through an injected resolver that leads made-up names to loopback listeners, so
a refusal can be seen to connect nothing. No test here dials anything but loopback."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from aiohttp.abc import AbstractResolver

from conftest import Sim, bearer, start_sim
from simulator.config import RateLimit
from simulator.core.addresses import Refused, ScreeningResolver, forbidden, judge
from simulator.core.webhooks import CallbackRejected, Policy, check_callback_url

OFF = RateLimit(0.0, 1.0)
NO_LIMITS = {"evolink": OFF, "acedata": OFF, "openaihk": OFF, "sunor": OFF, "orux": OFF}
SONG = {"action": "generate", "prompt": "A song for a quiet evening"}
HINT = "start with --allow-local-callbacks or allow this URL via POST /_sim/webhooks/allowed"
NONCANONICAL = ["0x7f.0x0.0x0.0x1", "0x7f.1", "127.1", "0177.0.0.1", "2130706433",
                "0xa9.0xfe.0xa9.0xfe"]


class Names(AbstractResolver):
    """Made-up names led to chosen addresses; every lookup is noted."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"no such name: {host}")
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for address in self.table[host]]

    async def close(self) -> None:
        pass


class Listener:
    """A loopback TCP port that counts the connections made to it and answers none."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, socket.timeout):
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


class Redirector:
    """A loopback HTTP server answering every POST with 302 to ``location``."""

    def __init__(self, location: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def with_names(allow_local: bool):
    sim = start_sim(allow_local_callbacks=allow_local, rate_limits=NO_LIMITS)
    names = Names()
    sim.engine.webhooks.resolver = names  # before any delivery; read at every lookup
    return sim, names


@pytest.fixture(scope="module")
def strict_sim():
    """Without --allow-local-callbacks."""
    sim, names = with_names(False)
    yield sim, names
    sim.stop()


@pytest.fixture(scope="module")
def lax_sim():
    """With --allow-local-callbacks."""
    sim, names = with_names(True)
    yield sim, names
    sim.stop()


def fresh(pair: tuple[Sim, Names]) -> tuple[Sim, Names]:
    sim, names = pair
    assert sim.admin("POST", "/reset").status_code == 200
    names.table.clear()
    names.lookups.clear()
    return sim, names


@pytest.fixture
def strict(strict_sim):
    return fresh(strict_sim)


@pytest.fixture
def lax(lax_sim):
    return fresh(lax_sim)


@pytest.fixture
def listener():
    port = Listener()
    yield port
    port.close()


def acedata_submit(sim: Sim, callback_url: str) -> requests.Response:
    return requests.post(f"{sim.base('acedata')}/suno/audios",
                         json={**SONG, "callback_url": callback_url}, headers=bearer(),
                         timeout=10)


def evolink_submit(sim: Sim, callback_url: str) -> requests.Response:
    return requests.post(f"{sim.base('evolink')}/v1/audios/generations",
                         json={"model": "suno-v4.5", "prompt": "A cheerful summer pop song",
                               "callback_url": callback_url}, headers=bearer(), timeout=10)


def finish_with_callback(sim: Sim, callback_url: str) -> str:
    """Submit an acedata task with a callback and settle it now: its callback goes out."""
    response = acedata_submit(sim, callback_url)
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    settled = sim.admin("POST", f"/tasks/{task_id}/outcome", json={"outcome": "succeed"})
    assert settled.status_code == 200, settled.text
    return task_id


def send(sim: Sim, url: str, policy: Policy = Policy(timeout=5.0, retries=0)) -> None:
    """One delivery made straight through the engine, as a dialect would make it."""
    sim.call(functools.partial(sim.engine.webhooks.send, url, b'{"hello": "world"}', policy,
                               provider="acedata"))


def attempts(sim: Sim, count: int, timeout: float = 10.0) -> list[dict]:
    """The recorded attempts, once at least ``count`` of them are there."""
    deadline = time.monotonic() + timeout
    while True:
        answer = sim.admin("GET", "/webhooks").json()
        if answer["count"] >= count or time.monotonic() > deadline:
            return answer["attempts"]
        time.sleep(0.02)


def assert_refused(attempt: dict, reason: str) -> None:
    assert attempt["refused"] is True and attempt["ok"] is False, attempt
    assert attempt["status"] is None
    assert attempt["error"] == f"refused: {reason}; {HINT}", attempt["error"]


# --- refused at delivery -------------------------------------------------------------------


def test_a_name_leading_to_loopback_is_refused_and_nothing_is_dialled(strict, listener):
    """The URL's text passes at submit; the name's answer, looked up as the delivery is
    made, leads to loopback: refused, recorded, counted, not retried, nothing dialled."""
    sim, names = strict
    names.table["rebind.example.test"] = ["127.0.0.1"]
    url = f"http://rebind.example.test:{listener.port}/hook"
    task_id = finish_with_callback(sim, url)
    [attempt] = attempts(sim, 1)
    assert attempt["task_id"] == task_id and attempt["url"] == url
    assert_refused(attempt, "rebind.example.test resolves to 127.0.0.1, a loopback address")
    assert names.lookups == ["rebind.example.test"]
    sim.advance(3600)  # well past every retry the dialect would make
    time.sleep(0.3)
    answer = sim.admin("GET", "/webhooks").json()
    assert answer["count"] == 1 and answer["pending"] == 0
    assert listener.connections == 0
    metrics = sim.admin("GET", "/metrics").text
    assert any('outcome="refused"' in line and 'provider="acedata"' in line
               and line.endswith(" 1.0") for line in metrics.splitlines()), metrics


def test_one_internal_answer_among_public_ones_refuses_the_name(strict, listener):
    sim, names = strict
    # Loopback first: were the name let through, the listener would take the connection
    # and the public address would never be dialled.
    names.table["mixed.example.test"] = ["127.0.0.1", "93.184.216.34"]
    send(sim, f"http://mixed.example.test:{listener.port}/hook")
    [attempt] = attempts(sim, 1)
    assert_refused(attempt, "mixed.example.test resolves to 127.0.0.1, a loopback address")
    assert listener.connections == 0


@pytest.mark.parametrize("host,shown,kind", [  # shown: the host as the URL parser writes it
    ("127.0.0.1", "127.0.0.1", "a loopback"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1", "an IPv4-mapped loopback"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1", "an IPv4-mapped loopback"),
])
def test_an_address_literal_is_judged_before_dialling(strict, listener, host, shown, kind):
    sim, names = strict
    send(sim, f"http://{host}:{listener.port}/hook")
    [attempt] = attempts(sim, 1)
    assert_refused(attempt, f"{shown} is {kind} address")
    assert names.lookups == [] and listener.connections == 0


def test_an_ipv4_mapped_literal_is_refused_at_submit_already(strict, listener):
    sim, _ = strict
    response = acedata_submit(sim, f"http://[::ffff:7f00:1]:{listener.port}/hook")
    assert response.status_code == 400, response.text
    assert "internal address" in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "2130706433"])
def test_a_noncanonical_literal_reaching_delivery_dials_nothing(strict, listener, host):
    """Submit refuses these spellings; one sent through the Python API still connects
    nowhere (aiohttp refuses it, or the lookup's answer is judged)."""
    sim, _ = strict
    send(sim, f"http://{host}:{listener.port}/hook")
    [attempt] = attempts(sim, 1)
    assert attempt["ok"] is False and attempt["status"] is None, attempt
    time.sleep(0.1)
    assert listener.connections == 0


# --- let through ---------------------------------------------------------------------------


def test_an_allowed_url_is_delivered_and_no_other(strict, receiver):
    sim, names = strict
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    names.table["hooks.example.test"] = ["127.0.0.1"]
    names.table["other.example.test"] = ["127.0.0.1"]
    allowed = f"http://hooks.example.test:{port}/hook"
    answer = sim.admin("POST", "/webhooks/allowed", json={"url": allowed})
    assert answer.status_code == 201, answer.text
    finish_with_callback(sim, allowed)
    assert len(receiver.wait_for(1)) == 1
    [attempt] = attempts(sim, 1)
    assert attempt["ok"] is True and attempt["refused"] is False and attempt["status"] == 200
    assert names.lookups == ["hooks.example.test"]  # one lookup: the one dialled

    finish_with_callback(sim, f"http://other.example.test:{port}/hook")
    second = attempts(sim, 2)[1]
    assert_refused(second, "other.example.test resolves to 127.0.0.1, a loopback address")
    time.sleep(0.2)
    assert len(receiver.calls) == 1


def test_allow_local_callbacks_delivers_to_internal_addresses(lax, receiver):
    sim, names = lax
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    names.table["hooks.example.test"] = ["127.0.0.1"]
    finish_with_callback(sim, f"http://hooks.example.test:{port}/hook")
    finish_with_callback(sim, receiver.url)
    assert len(receiver.wait_for(2)) == 2
    assert [(a["ok"], a["refused"]) for a in attempts(sim, 2)] == [(True, False)] * 2


def test_a_redirect_is_not_followed(lax, listener):
    """A 3xx is the attempt's answer: recorded, not ok, retried as any failure is; the
    place it points to is never reached."""
    sim, _ = lax
    redirector = Redirector(f"http://127.0.0.1:{listener.port}/elsewhere")
    try:
        send(sim, redirector.url, Policy(timeout=5.0, retries=1, backoff=(5.0,)))
        [first] = attempts(sim, 1)
        assert (first["status"], first["ok"], first["refused"]) == (302, False, False)
        assert sim.admin("GET", "/webhooks").json()["pending"] == 1
        sim.advance(5)
        second = attempts(sim, 2)[1]
        assert (second["attempt"], second["status"], second["ok"]) == (2, 302, False)
        time.sleep(0.2)
        assert listener.connections == 0
    finally:
        redirector.close()


# --- refused at submit ---------------------------------------------------------------------


@pytest.mark.parametrize("host", NONCANONICAL)
def test_noncanonical_ipv4_is_refused_in_evolinks_shape(lax, strict, host):
    """Refused with or without --allow-local-callbacks."""
    for sim, _ in (lax, strict):
        response = evolink_submit(sim, f"https://{host}/hook")
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == 400 and error["type"] == "invalid_request_error"
        assert error["param"] == "callback_url"
        assert error["message"] == ("callback_url host must be a canonical dotted-quad "
                                    "IPv4 address or a name")
        assert sim.admin("GET", "/tasks").json()["count"] == 0


@pytest.mark.parametrize("host", NONCANONICAL)
def test_noncanonical_ipv4_is_refused_in_acedatas_shape(lax, strict, host):
    for sim, _ in (lax, strict):
        response = acedata_submit(sim, f"http://{host}:8080/hook")
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error"]["code"] == "bad_request" and body["trace_id"]
        assert "canonical dotted-quad IPv4 address" in body["error"]["message"]


def test_a_noncanonical_url_cannot_be_allowed(lax):
    sim, _ = lax
    answer = sim.admin("POST", "/webhooks/allowed", json={"url": "http://127.1:8080/hook"})
    assert answer.status_code == 400 and "canonical" in answer.text


# --- the rules themselves ------------------------------------------------------------------


@pytest.mark.parametrize("address,kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.1", "private"), ("fc00::1", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("fe80::1%eth0", "link-local"), ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"), ("::ffff:a9fe:a9fe", "IPv4-mapped link-local"),
    ("2002:7f00:1::1", "6to4 loopback"), ("64:ff9b::a01:203", "NAT64 private"),
    ("93.184.216.34", None), ("2606:4700::1111", None), ("::ffff:93.184.216.34", None),
])
def test_address_kinds(address, kind):
    assert forbidden(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("url", [f"http://{host}/hook" for host in NONCANONICAL]
                         + ["http://1.2.3.256/hook", "http://example.0x10/hook"])
def test_check_callback_url_refuses_noncanonical_spellings_whatever_the_flags(url):
    for allow_internal in (False, True):
        with pytest.raises(CallbackRejected, match="canonical dotted-quad"):
            check_callback_url(url, https_only=False, allow_internal=allow_internal)


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://example.com/hook",
                                 "http://127.0.0.1./hook", "http://a1.example/hook"])
def test_canonical_hosts_and_names_are_not_taken_for_odd_spellings(url):
    check_callback_url(url, https_only=False, allow_internal=True)


def test_the_screening_resolver_judges_every_answer():
    names = Names()
    names.table["meta.example.test"] = ["169.254.169.254"]
    names.table["public.example.test"] = ["93.184.216.34", "2606:4700::1111"]
    screened = ScreeningResolver(lambda: names, screen=True)
    passing = ScreeningResolver(lambda: names, screen=False)
    with pytest.raises(Refused, match="169.254.169.254, a link-local address"):
        asyncio.run(screened.resolve("meta.example.test", 443))
    assert len(asyncio.run(screened.resolve("public.example.test", 443))) == 2
    answer = asyncio.run(passing.resolve("meta.example.test", 443))
    assert answer[0]["host"] == "169.254.169.254"


def test_judge_names_what_the_host_is():
    judge("93.184.216.34", "93.184.216.34")
    with pytest.raises(Refused, match=r"^10\.1\.2\.3 is a private address$"):
        judge("10.1.2.3", "10.1.2.3")
    with pytest.raises(Refused, match="not an IP address"):
        judge("odd.example.test", "not-an-address")
