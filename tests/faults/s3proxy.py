"""A tiny HTTP proxy on loopback in front of moto's S3 server that injects real network faults.

Rules say which requests to hit (method, path pattern) and how, for the first ``times`` matches:

- ``status``: answer an S3 error (``503 SlowDown``, ``500 InternalError``, ``403 AccessDenied``...)
  without forwarding;
- ``delay``: wait ``seconds`` before forwarding (a slow response, past the client's read timeout);
- ``drop``: close the connection without an answer;
- ``block``: hold the request until :meth:`FaultProxy.release` (the test kills whoever sent it).

:meth:`FaultProxy.outage` closes the listening socket and every open connection for a while, as a
restarting server does: clients get "connection refused" until it is back on the same port.
Every injected fault is counted in :attr:`FaultProxy.injected`.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

_S3_ERRORS = {403: ("AccessDenied", "Access Denied"), 404: ("NoSuchBucket", "The specified bucket does not exist"),
              500: ("InternalError", "We encountered an internal error. Please try again."),
              503: ("SlowDown", "Please reduce your request rate.")}


@dataclass
class Rule:
    action: str  # status | delay | drop | block
    method: str | None = None  # GET, PUT, HEAD, ... (None: any)
    path: str | None = None  # regex searched in the request path (None: any)
    times: int = 1  # how many matching requests it hits (-1: all)
    status: int = 503
    seconds: float = 0.0
    hits: int = 0
    senders: list = field(default_factory=list)  # client (host, port) of each hit request

    def matches(self, method: str, path: str) -> bool:
        return ((self.times < 0 or self.hits < self.times) and (self.method is None or self.method == method)
                and (self.path is None or re.search(self.path, path) is not None))


class FaultProxy:
    def __init__(self, upstream: str):
        u = urlparse(upstream)
        self.upstream = (u.hostname, u.port)
        self.rules: list[Rule] = []
        self.injected: Counter = Counter()
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.blocked = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- control -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, action: str, **kw) -> Rule:
        rule = Rule(action, **kw)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def release(self) -> None:
        self.released.set()

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def outage(self, seconds: float) -> None:
        """Go away for ``seconds`` (connections refused, open ones cut), then come back on the same port."""
        self.stop()
        self.injected["outage"] += 1
        time.sleep(seconds)
        for _ in range(50):
            try:
                self.start()
                return
            except OSError:  # the port is still in TIME_WAIT somewhere: try again shortly
                time.sleep(0.1)
        raise RuntimeError("the proxy could not come back on its port")

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.release()
        self.stop()

    def _match(self, method: str, path: str, sender) -> Rule | None:
        with self.lock:
            self.requests.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    rule.senders.append(sender)
                    self.injected[rule.action if rule.action != "status" else str(rule.status)] += 1
                    return rule
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultProxy

    def log_message(self, *args) -> None:  # quiet
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the client went away (killed, timed out): nothing to do
            pass

    def setup(self) -> None:
        super().setup()
        with self.proxy.lock:
            self.proxy._conns.add(self.connection)

    def finish(self) -> None:
        with self.proxy.lock:
            self.proxy._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = self.proxy._match(self.command, self.path, self.client_address)
        if rule is not None:
            if rule.action == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if rule.action == "status":
                return self._error(rule.status)
            if rule.action == "delay":
                time.sleep(rule.seconds)
            if rule.action == "block":
                self.proxy.blocked.set()
                self.proxy.released.wait(120)
        self._forward(body)

    def _error(self, status: int) -> None:
        code, message = _S3_ERRORS.get(status, ("InternalError", "injected"))
        data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>fault</RequestId></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self._finish(data)

    def _finish(self, data: bytes) -> None:
        """End the headers and send ``data`` (not for HEAD); a client that gave up is not an error."""
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the client gave up first (its read timeout): nothing to answer
            self.close_connection = True

    def _forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:  # the server behind is down (restarting): the client sees its connection cut
            self.close_connection = True
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length", "server", "date"):
                continue
            self.send_header(k, v)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length if length is not None else str(len(data)))
        self._finish(data)
