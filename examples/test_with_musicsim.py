"""How a client author tests a client against musicsim with the pytest plugin.

Installing musicsim registers the plugin; the `musicsim` fixture is a simulator running
for the test session, reset before each test, on a manual clock. Run with:

    .venv/bin/pytest examples/test_with_musicsim.py

or on a simulator already running, shared by two workers (each test gets a sandbox):

    .venv/bin/pytest -n 2 --musicsim-url http://127.0.0.1:8000 examples/test_with_musicsim.py
"""

import json
import urllib.error
import urllib.request


class SongClient:
    """The client under test: a few lines of evolink."""

    def __init__(self, base_url: str, api_key: str):
        self.base_url, self.api_key = base_url, api_key

    def _call(self, method: str, path: str, body=None):
        request = urllib.request.Request(
            self.base_url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.api_key}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def start_song(self, prompt: str) -> str:
        status, answer = self._call("POST", "/v1/audios/generations",
                                    {"model": "suno-v4", "custom_mode": False,
                                     "instrumental": False, "prompt": prompt})
        if status != 200:
            raise RuntimeError(answer["error"]["message"])
        return answer["id"]

    def status(self, task_id: str) -> str:
        return self._call("GET", f"/v1/tasks/{task_id}")[1]["status"]


def test_a_song_completes(musicsim):
    client = SongClient(musicsim.base_url("evolink"), musicsim.api_key)
    task_id = client.start_song("a song about testing")
    assert client.status(task_id) == "pending"
    musicsim.clock.advance(300)  # time moves only when the test says so
    assert client.status(task_id) == "completed"
    assert musicsim.journal_stats(provider="evolink", method="GET")["count"] == 2


def test_the_client_sees_a_failed_task(musicsim):
    musicsim.fault(match={"provider": "evolink"}, action={"task": "fail"})
    client = SongClient(musicsim.base_url("evolink"), musicsim.api_key)
    task_id = client.start_song("a song the upstream rejects")
    musicsim.clock.advance(300)
    assert client.status(task_id) == "failed"


def test_the_client_reports_running_out_of_credits(musicsim):
    poor = musicsim.account(credits=0)
    client = SongClient(musicsim.base_url("evolink"), poor)
    try:
        client.start_song("a song nobody paid for")
    except RuntimeError as exc:
        assert "quota" in str(exc).lower()
    else:
        raise AssertionError("a key without credits made a song")
    assert musicsim.tasks(provider="evolink") == []
