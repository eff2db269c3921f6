"""HTTPS on a developer's machine: ``serve --tls`` with a local CA, ``--tls-cert/--tls-key``,
callbacks to https:// receivers, and the conformance runner's HTTPS receiver. Real
processes and real TLS throughout."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import requests
import trustme

from conformance.receiver import Receiver, receiver_ssl
from conftest import assert_answers_conform
from simulator.background import Background
from simulator.config import load
from simulator.tls import key_path

MUSICSIM = [sys.executable, "-m", "simulator.cli"]
KEY = "sk-musicsim-demo"
AUTH = {"Authorization": f"Bearer {KEY}"}
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Served:
    """A ``musicsim serve`` process and the banner it printed."""

    def __init__(self, args: list[str], cwd: Path):
        self.proc = subprocess.Popen([*MUSICSIM, "serve", "--port", "0", *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=ENV)
        self.lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("demo API key" in l for l in self.lines):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.stderr.read()}")
            self.lines.append(line)
        self.banner = "".join(self.lines)
        self.origin = self.banner.split(" on ", 1)[1].split()[0]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        _, log = self.proc.communicate(timeout=15)
        assert self.proc.returncode == 0
        assert_answers_conform(log)  # checked because the suite sets MUSICSIM_CHECK_ANSWERS


@pytest.fixture
def serve(tmp_path):
    started: list[Served] = []

    def start(*args: str, cwd: Path = tmp_path) -> Served:
        started.append(Served(list(args), cwd))
        return started[-1]

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.stop()


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSICSIM, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env or ENV)


def test_serve_tls_with_a_local_ca_links_and_downloads_read_https(serve, tmp_path: Path):
    ca = tmp_path / "ca.pem"
    sim = serve("--tls", "--tls-ca", str(ca), "--clock", "manual")
    assert sim.origin.startswith("https://127.0.0.1:")
    assert f"{ca}" in sim.banner and "made now" in sim.banner
    assert f"curl --cacert {ca}" in sim.banner and f"REQUESTS_CA_BUNDLE={ca}" in sim.banner
    assert all(l.split()[1].startswith("https://") for l in sim.lines
               if l.strip().startswith(("evolink", "orux")))
    assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in ca.read_bytes()
    assert key_path(ca) == tmp_path / "ca-key.pem"
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o777 == 0o600

    # Verified with the CA: works. Without it: the certificate is refused.
    health = requests.get(f"{sim.origin}/_sim/health", verify=str(ca), timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert requests.get(f"https://localhost:{sim.origin.rsplit(':', 1)[1]}/_sim/health",
                        verify=str(ca), timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sim.origin}/_sim/health", timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.origin.replace("https://", "http://") + "/_sim/health", timeout=10)

    created = requests.post(f"{sim.origin}/evolink/v1/audios/generations", headers=AUTH,
                            json={"model": "suno-v5", "prompt": "a song over TLS"},
                            verify=str(ca), timeout=10)
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    requests.post(f"{sim.origin}/_sim/clock/advance", json={"seconds": 400}, verify=str(ca),
                  timeout=30).raise_for_status()
    task = requests.get(f"{sim.origin}/evolink/v1/tasks/{task_id}", headers=AUTH,
                        verify=str(ca), timeout=10).json()
    assert task["status"] == "completed", task
    links = [link for link in task["results"]]
    links += [v for item in task["result_data"] for k, v in item.items()
              if k.endswith("_url") and isinstance(v, str)]
    assert links and all(link.startswith("https://127.0.0.1:") for link in links), links
    song = requests.get(task["results"][0], verify=str(ca), timeout=60)
    assert song.status_code == 200 and song.headers["Content-Type"] == "audio/mpeg"
    assert song.content[:3] == b"ID3" or song.content[0] == 0xFF and song.content[1] & 0xE0 == 0xE0

    # A restart with the same --tls-ca (which alone implies --tls) keeps the CA.
    first = ca.read_bytes()
    sim.stop()
    again = serve("--tls-ca", str(ca))
    assert again.origin.startswith("https://") and "reused" in again.banner
    assert ca.read_bytes() == first
    assert requests.get(f"{again.origin}/_sim/health", verify=str(ca),
                        timeout=10).status_code == 200


def test_serve_tls_without_tls_ca_writes_the_ca_in_the_working_directory(serve, tmp_path):
    sim = serve("--tls", cwd=tmp_path)
    ca = tmp_path / "musicsim-ca.pem"
    assert ca.exists() and (tmp_path / "musicsim-ca-key.pem").exists()
    assert str(ca) in sim.banner
    assert requests.get(f"{sim.origin}/_sim/health", verify=str(ca),
                        timeout=10).status_code == 200


def test_serve_with_your_own_certificate_and_key(serve, tmp_path: Path):
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "their-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    sim = serve("--tls-cert", str(cert), "--tls-key", str(key), "--provider", "evolink")
    assert sim.origin.startswith("https://") and f"TLS certificate: {cert}" in sim.banner
    assert not (tmp_path / "musicsim-ca.pem").exists()  # no local CA is made
    port = int(sim.origin.rsplit(":", 1)[1])
    served = ssl.get_server_certificate(("127.0.0.1", port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(
        leaf.cert_chain_pems[0].bytes().decode())
    assert requests.get(f"{sim.origin}/_sim/health", verify=str(ca),
                        timeout=10).status_code == 200


def test_bad_tls_flags_are_argparse_errors(tmp_path: Path):
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    cert, key, junk = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "junk.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    junk.write_text("not a certificate\n")
    other_key = tmp_path / "other-key.pem"
    authority.issue_cert("127.0.0.1").private_key_pem.write_to_path(other_key)
    cases = {
        ("--tls-cert", str(cert)): "--tls-cert needs --tls-key",
        ("--tls-key", str(key)): "--tls-key needs --tls-cert",
        ("--tls-ca", str(tmp_path / "ca.pem"), "--tls-cert", str(cert), "--tls-key", str(key)):
            "are alternatives",
        ("--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(key)): "cannot read it",
        ("--tls-cert", str(junk), "--tls-key", str(key)): "not a PEM certificate",
        ("--tls-cert", str(cert), "--tls-key", str(junk)): "not a PEM private key",
        ("--tls-cert", str(cert), "--tls-key", str(other_key)): "does not match",
        ("--tls-ca", str(junk)): "not a PEM certificate",
        ("--tls-ca", str(cert)): f"its private key {tmp_path / 'cert-key.pem'} is missing",
    }
    for flags, message in cases.items():
        result = run("serve", "--port", "0", *flags, cwd=tmp_path)
        assert result.returncode == 2, (flags, result.stderr)
        assert "musicsim serve: error:" in result.stderr and message in result.stderr, \
            (flags, result.stderr)
        assert "Traceback" not in result.stderr and "usage:" in result.stderr
    # The same rule whatever the source: half a pair in the environment.
    env = {**ENV, "MUSICSIM_TLS_CERT": str(cert)}
    result = run("serve", "--port", "0", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "--tls-cert needs --tls-key" in result.stderr
    gateway = run("conformance", "gateway", "--provider", "evolink", "--base-url",
                  "https://127.0.0.1:1/evolink", "--api-key", KEY,
                  "--receiver-tls-ca", str(tmp_path / "missing.pem"))
    assert gateway.returncode == 2 and "--receiver-tls-ca" in gateway.stderr
    assert "cannot read it" in gateway.stderr and "Traceback" not in gateway.stderr


def test_settings_from_environment_and_file(tmp_path: Path):
    settings = load(env={"MUSICSIM_TLS": "1", "MUSICSIM_TLS_CA": str(tmp_path / "ca.pem")})
    assert settings.tls and settings.tls_ca == str(tmp_path / "ca.pem")
    assert settings.base_url == "https://127.0.0.1:8000"
    config = tmp_path / "sim.toml"
    config.write_text(f'tls_cert = "{tmp_path / "c.pem"}"\ntls_key = "{tmp_path / "k.pem"}"\n')
    assert load(config, env={}).scheme == "https"
    assert load(env={}).base_url == "http://127.0.0.1:8000"
    assert load(env={}, host="::1", tls=True).origin(9) == "https://[::1]:9"


def _submit_with_callback(origin: str, ca: Path, callback_url: str) -> str:
    created = requests.post(f"{origin}/evolink/v1/audios/generations", headers=AUTH,
                            json={"model": "suno-v5", "prompt": "callbacks over TLS",
                                  "callback_url": callback_url},
                            verify=str(ca) if ca else True, timeout=10)
    assert created.status_code == 200, created.text
    return created.json()["id"]


def test_callbacks_reach_an_https_receiver_with_a_certificate_from_the_local_ca(tmp_path):
    ca = tmp_path / "ca.pem"
    server = Background(tls=True, tls_ca=str(ca), clock="manual",
                        allow_local_callbacks=True).start()

    async def scenario() -> None:
        receiver = await Receiver(ssl=receiver_ssl(str(ca), "127.0.0.1")).start()
        try:
            assert receiver.url.startswith("https://127.0.0.1:")
            address = receiver.address("tls")
            task_id = await asyncio.to_thread(_submit_with_callback, server.url, ca, address)
            await asyncio.to_thread(
                lambda: requests.post(f"{server.url}/_sim/clock/advance", json={"seconds": 400},
                                      verify=str(ca), timeout=30).raise_for_status())
            got = await receiver.wait(
                "tls", lambda ds: any(d.data.get("callback_type") == "complete" for d in ds), 20)
            stages = [d.data["callback_type"] for d in got]
            assert "complete" in stages, stages
            complete = next(d.data for d in got if d.data["callback_type"] == "complete")
            links = [u for u in complete["results"]]
            assert links and all(u.startswith(server.url + "/media/") for u in links), links
            # The links in a callback download over HTTPS, verified with the CA.
            async with aiohttp.ClientSession() as session:
                async with session.get(links[0], ssl=server.ssl_context()) as song:
                    assert song.status == 200 and song.content_type == "audio/mpeg"
            record = await asyncio.to_thread(
                lambda: requests.get(f"{server.url}/_sim/webhooks?task_id={task_id}",
                                     verify=str(ca), timeout=10).json())
            attempts = record["attempts"]
            assert attempts and all(a["url"] == address and a["ok"] and a["status"] == 200
                                    and a["error"] is None for a in attempts), attempts
        finally:
            await receiver.stop()

    try:
        assert server.url.startswith("https://") and server.ca_path == ca
        asyncio.run(scenario())
    finally:
        server.stop()


def test_callbacks_refuse_a_receiver_certificate_from_an_unknown_ca(tmp_path):
    server = Background(clock="manual", allow_local_callbacks=True).start()  # plain HTTP
    stranger = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    stranger.issue_cert("127.0.0.1").configure_cert(context)

    async def scenario() -> None:
        receiver = await Receiver(ssl=context).start()
        try:
            task_id = await asyncio.to_thread(_submit_with_callback, server.url, None,
                                              receiver.address("stranger"))
            await asyncio.to_thread(
                lambda: requests.post(f"{server.url}/_sim/clock/advance",
                                      json={"seconds": 30}, timeout=30).raise_for_status())
            deadline = time.monotonic() + 20
            attempts = []
            while time.monotonic() < deadline and not attempts:
                attempts = (await asyncio.to_thread(
                    lambda: requests.get(f"{server.url}/_sim/webhooks?task_id={task_id}",
                                         timeout=10).json()))["attempts"]
                await asyncio.sleep(0.1)
            assert attempts and not attempts[0]["ok"], attempts
            assert "certificate" in attempts[0]["error"].lower(), attempts[0]
            assert not receiver.deliveries
        finally:
            await receiver.stop()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_conformance_gateway_with_an_https_receiver_against_a_tls_simulator(serve, tmp_path):
    ca = tmp_path / "ca.pem"
    sim = serve("--tls", "--tls-ca", str(ca), "--allow-local-callbacks", "--provider", "evolink")
    listed = run("conformance", "list", "--provider", "evolink", "--cases", "evolink.callbacks.*")
    assert "evolink.callbacks.stages" in listed.stdout
    report = tmp_path / "report.json"
    result = run("conformance", "gateway", "--provider", "evolink",
                 "--base-url", f"{sim.origin}/evolink", "--api-key", KEY,
                 "--receiver-tls-ca", str(ca), "--cases", "evolink.callbacks.*",
                 "--poll-every", "0.5", "--json", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(report.read_text())
    assert [(c["id"], c["outcome"]) for c in outcome["cases"]] == \
        [("evolink.callbacks.stages", "passed")], outcome["cases"]
    attempts = requests.get(f"{sim.origin}/_sim/webhooks", verify=str(ca),
                            timeout=10).json()["attempts"]
    assert attempts and all(a["url"].startswith("https://127.0.0.1:") and a["ok"]
                            for a in attempts), attempts


def test_a_ca_file_holding_certificate_and_key_together_is_reused(tmp_path: Path):
    authority = trustme.CA()
    both = tmp_path / "both.pem"
    both.write_bytes(authority.cert_pem.bytes() + authority.private_key_pem.bytes())
    server = Background(tls_ca=str(both)).start()  # tls_ca alone turns TLS on
    try:
        assert server.url.startswith("https://") and server.tls.ca_key_path == both
        assert not key_path(both).exists()
        authority.cert_pem.write_to_path(tmp_path / "ca-only.pem")
        health = requests.get(f"{server.url}/_sim/health", verify=str(tmp_path / "ca-only.pem"),
                              timeout=10)
        assert health.status_code == 200
    finally:
        server.stop()
