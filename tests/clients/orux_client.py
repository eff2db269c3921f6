"""A sample orux client with a webhook endpoint, for grading signature checks.

`python orux_client.py good` refuses a delivery whose X-Orux-Signature does not match
HMAC-SHA256(secret, "{timestamp}." + body); `bad` accepts every delivery unread.
"""

import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

BASE, KEY = os.environ["MUSICSIM_BASE_URL"], os.environ["MUSICSIM_API_KEY"]
SECRET = os.environ["MUSICSIM_CALLBACK_SECRET"].encode()
CAREFUL = sys.argv[1:] == ["good"]
finished = threading.Event()


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        stamp = self.headers.get("X-Orux-Timestamp", "")
        expected = "sha256=" + hmac.new(SECRET, stamp.encode() + b"." + raw,
                                        hashlib.sha256).hexdigest()
        genuine = hmac.compare_digest(expected, self.headers.get("X-Orux-Signature", ""))
        self.send_response(200 if genuine or not CAREFUL else 401)
        self.end_headers()
        if genuine:
            finished.set()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
body = {"model": "suno-v5", "prompt": "a sample client's song",
        "webhook_url": f"http://127.0.0.1:{server.server_port}/hook"}
request = urllib.request.Request(f"{BASE}/api/v1/tasks", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as response:
    task = json.loads(response.read())
if not finished.wait(60):
    print("no webhook arrived")
    sys.exit(1)
time.sleep(2.0)  # a receiver stays up: later deliveries may come
print(f"task {task['task_id']} reported by webhook")
