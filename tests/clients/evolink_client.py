"""A sample evolink client, for grading by `musicsim conformance client`.

Run as `python evolink_client.py good` it does what a careful client does: a valid
request, polls a second apart, waits as Retry-After says, stops at a terminal status and
exits 1 when the song failed. `bad` does what careless ones do: an invalid request first,
polls in a tight loop and on past the end, retries a 429 at once, and exits 0 whatever
happened.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE, KEY = os.environ["MUSICSIM_BASE_URL"], os.environ["MUSICSIM_API_KEY"]
CAREFUL = sys.argv[1:] == ["good"]


def call(method, path, body=None):
    request = urllib.request.Request(BASE + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {KEY}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def patient(method, path, body=None):
    while True:
        status, headers, data = call(method, path, body)
        if status not in (429, 503):
            return status, data
        time.sleep(float(headers.get("Retry-After", 1)) if CAREFUL else 0.01)


if not CAREFUL:
    call("POST", "/v1/audios/generations", {"prompt": "no model given"})
status, task = patient("POST", "/v1/audios/generations",
                       {"model": "suno-v4", "custom_mode": False, "instrumental": False,
                        "prompt": "a sample client's song"})
if status != 200:
    print(f"submit refused: {status} {task}")
    sys.exit(1)
extra = 0 if CAREFUL else 3
while True:
    status, task = patient("GET", f"/v1/tasks/{task['id']}")
    if task.get("status") in ("completed", "failed"):
        if extra == 0:
            break
        extra -= 1
    time.sleep(1.0 if CAREFUL else 0.05)
if task["status"] == "failed" and CAREFUL:
    print(f"task {task['id']} failed: {task.get('error')}")
    sys.exit(1)
print("done" if CAREFUL else "ok")
