"""A signing proxy for the contract tests: schemathesis talks to it, it forwards each request
to the API (the local gateway) and signs it on the way, as dynaBOARD Cloud signs its calls.

The signature covers exactly what is forwarded: the request target (path and `?query`) as it
arrived on the request line, byte for byte, and the raw body (docs/design.md "Authentication: signed requests"):

    X-Dynaboard-Timestamp: <unix seconds>
    X-Dynaboard-Signature: v1=<hex HMAC-SHA256 over "v1:<ts>:<METHOD>:<path?query>:<body>">

Signing in a proxy rather than in a schemathesis hook means the MAC is computed over the
bytes that go on the wire, after the HTTP client has encoded the path, query and body.

With `sign=False` it forwards unchanged (and drops any signature headers a client sent
only when `strip=True`): the unsigned run goes through it too, so that both runs are counted
per operation the same way.

Standard library only; threaded; listens on a free loopback port.
"""

import hashlib
import hmac
import json
import http.client
import http.server
import re
import threading
import time
import urllib.parse
from collections import Counter

TIMESTAMP_HEADER = "X-Dynaboard-Timestamp"
SIGNATURE_HEADER = "X-Dynaboard-Signature"
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; Host is set for the upstream.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}


def sign(key: str, timestamp: int, method: str, target: bytes, body: bytes) -> str:
    """The `X-Dynaboard-Signature` value (same as shared/src/domain/signature.rs `sign`)."""
    msg = b"v1:" + str(timestamp).encode() + b":" + method.encode() + b":" + target + b":" + body
    return "v1=" + hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


_SIGNED = set()  # the write signatures handed out (see fresh_signature)
_SIGNED_LOCK = threading.Lock()


def fresh_signature(key: str, method: str, target: bytes, body: bytes):
    """(timestamp, signature) at the current second, or a second earlier (and so on, at most
    280) when this process already signed the same write at that second: a signed write is
    served once (docs/api.md "Replayed requests"), and sending the same write twice here
    means two requests, which dynaBOARD would sign at two different seconds."""
    now = int(time.time())
    with _SIGNED_LOCK:
        for ts in range(now, now - 281, -1):
            sig = sign(key, ts, method, target, body)
            if method == "GET" or sig not in _SIGNED:
                _SIGNED.add(sig)
                return ts, sig
    return now, sign(key, now, method, target, body)


class Routes:
    """Maps `METHOD /path` to the OpenAPI operation it belongs to (literal segments equal,
    `{name}` one non-empty segment, as API Gateway matches)."""

    def __init__(self, operations):
        # operations: [(method, path template, operationId)]
        self.table = []
        for method, template, op_id in operations:
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            self.table.append((method.upper(), re.compile(pattern), op_id))

    def operation(self, method, raw_target):
        path = raw_target.split("?", 1)[0]
        for m, rx, op_id in self.table:
            if m == method and rx.match(path):
                return op_id
        return f"(unrouted) {method}"


class SigningProxy:
    def __init__(self, upstream: str, key: str, routes: Routes):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 80
        self.key = key
        self.routes = routes
        self.sign = True
        self.lock = threading.Lock()
        # run label -> Counter of (operationId, status)
        self.counts = {}
        self.label = "signed"
        self.errors = []  # upstream failures (connection errors): each one fails the run
        self.journal = None  # an open file: one JSON line per request (run label, op, status, ...)
        self.server = None
        self.thread = None

    # -- bookkeeping ---------------------------------------------------------------------
    def record(self, op_id, status, method, target, body, answer):
        with self.lock:
            self.counts.setdefault(self.label, Counter())[(op_id, status)] += 1
            if self.journal:
                entry = {
                    "run": self.label, "operation": op_id, "status": status, "method": method,
                    "target": target[:500], "body": body[:500].decode("utf-8", "replace"),
                    "answer": answer[:500].decode("utf-8", "replace"),
                }
                self.journal.write(json.dumps(entry) + "\n")

    def switch(self, label, sign):
        with self.lock:
            self.label = label
            self.sign = sign

    # -- forwarding ----------------------------------------------------------------------
    def forward(self, method, target: bytes, headers, body: bytes):
        """Returns (status, reason, [(name, value)], body) of the upstream answer."""
        with self.lock:
            do_sign = self.sign
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            # putrequest takes a str; latin-1 maps the received bytes 1:1 (the request line
            # was decoded the same way), so the bytes sent equal the bytes signed.
            conn.putrequest(method, target.decode("latin-1"), skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{self.upstream_host}:{self.upstream_port}")
            for name, value in headers:
                lname = name.lower()
                if lname in HOP_BY_HOP or lname == "content-length":
                    continue
                if do_sign and lname in (TIMESTAMP_HEADER.lower(), SIGNATURE_HEADER.lower()):
                    continue
                conn.putheader(name, value)
            if do_sign:
                ts, sig = fresh_signature(self.key, method, target, body)
                conn.putheader(TIMESTAMP_HEADER, str(ts))
                conn.putheader(SIGNATURE_HEADER, sig)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the summary counts everything
                pass

            def handle_one(self):
                method = self.command
                # The request target exactly as received (http.server decodes it as latin-1).
                target = self.path.encode("latin-1")
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self.read_chunked()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op_id = proxy.routes.operation(method, self.path)
                try:
                    status, reason, headers, data = proxy.forward(method, target, self.headers.items(), body)
                except Exception as e:  # noqa: BLE001 -- any upstream failure is reported
                    with proxy.lock:
                        proxy.errors.append(f"{method} {self.path[:200]}: {type(e).__name__}: {e}")
                    status, reason, headers, data = 599, "Upstream Failure", [("Content-Type", "text/plain")], str(e).encode()
                proxy.record(op_id, status, method, self.path, body, data)
                self.send_response_only(status, reason)
                for name, value in headers:
                    if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                        continue
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(data)

            def read_chunked(self):
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            def __getattr__(self, name):
                # do_GET, do_PUT, do_QUERY, ...: every method is forwarded the same way.
                if name.startswith("do_"):
                    return self.handle_one
                raise AttributeError(name)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="signing-proxy", daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
