#!/usr/bin/env python3
"""A webhook receiver that checks Standard Webhooks signatures (stdlib only).

    WEBHOOK_SECRET=whsec_... python3 examples/receiver.py 9000

Answers 204 to a correctly signed request with a recent timestamp and prints
the payload; answers 401 otherwise.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["WEBHOOK_SECRET"]
TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, headers, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < TOLERANCE_SECONDS
    return fresh and any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = all(h in self.headers for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        ok = ok and verify(SECRET, self.headers, body)
        print(("verified" if ok else "REJECTED"), self.headers.get("webhook-id"), json.loads(body or b"null"), flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
