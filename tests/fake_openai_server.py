"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

It runs the standard library's threading HTTP server in a background thread and answers
``POST /v1/chat/completions`` from a *script*: a function of the request body returning the reply text
(default: the letter ``"A."``). It can be told to misbehave, per request or from now on:

>>> with FakeOpenAIServer(script=lambda body: "B.") as server:     # doctest: +SKIP
...     server.queue_faults("500", "429", "stall")   # the next three requests fail, one way each
...     server.set_default_fault("garbage")          # every later request returns non-JSON
...     server.stop()                                 # the server dies: connections are refused

Faults: ``"500"`` (HTTP 500), ``"503"``, ``"429"`` (rate limit with ``Retry-After: 0``), ``"400"``,
``"401"`` (refused, with the request's headers echoed in the body, as some proxies do),
``"stall"`` (sleep ``stall_seconds`` before answering), ``"garbage"`` (200 with a body that is not JSON),
``"empty"`` (200 with ``"choices": []``), ``"null"`` (200 with a choice whose content is null),
``"drop"`` (close the connection without answering). ``die_after=N`` (or :meth:`FakeOpenAIServer.die`)
kills the server right after it answered its N-th request: later requests are dropped, then refused.

``GET /v1/models`` lists ``model`` (a name or a tuple of names). Every request body is kept in ``server.requests`` (in arrival order, its headers in ``server.headers``,
what was done in ``server.statuses``: 200 or the fault name); ``server.max_in_flight`` is the
largest number of requests handled at the same time. ``latency`` adds a fixed delay to every answer.

``api_key="k"`` answers 401 (headers echoed) to every request, GET included, whose Authorization is not
``Bearer k``. ``gate=n`` holds every answer until ``n`` requests are in flight (or, with ``expected`` total
requests, all that are left), then answers one of the held ones picked at random (``gate_seed``): replies
arrive in a shuffled order, and a client that lets its in-flight count drop below ``n`` while work remains
makes the gate wait; after ``gate_timeout`` seconds it answers anyway and counts it in ``server.starved``.
``server.in_flight_at_arrival`` has the in-flight count (this request included) at each request's arrival.

Run it by hand: ``python tests/fake_openai_server.py --port 8000 --latency 0.05``.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("500", "503", "429", "400", "401", "stall", "garbage", "empty", "null", "drop")

Script = Callable[[dict[str, Any]], str]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away, or a socket closed by stop(): not worth a traceback


def last_user_text(body: dict[str, Any]) -> str:
    """The text parts of the last user message of a chat-completions request body."""
    for msg in reversed(body.get("messages", [])):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


class FakeOpenAIServer:
    """OpenAI-compatible stub; see the module docstring. ``url`` is the base URL (``.../v1``)."""

    def __init__(
        self,
        script: Script | None = None,
        latency: float = 0.0,
        stall_seconds: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str | tuple[str, ...] = "fake-model",
        die_after: int | None = None,
        api_key: str | None = None,
        gate: int | None = None,
        expected: int | None = None,
        gate_timeout: float = 5.0,
        gate_seed: int = 0,
    ) -> None:
        self.script: Script = script or (lambda body: "A.")
        self.latency = latency
        self.stall_seconds = stall_seconds
        self.models = (model,) if isinstance(model, str) else tuple(model)  # what GET /v1/models lists
        self.model = self.models[0]
        self.die_after = die_after
        self.api_key = api_key
        self.gate = gate
        self.expected = expected
        self.gate_timeout = gate_timeout
        self.starved = 0
        self.in_flight_at_arrival: list[int] = []
        self._gate_rng = random.Random(gate_seed)
        self._held: list[int] = []
        self._released: set[int] = set()
        self._answered = 0
        self._cond = threading.Condition()
        self._dead = False
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int | str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._faults: collections.deque[str] = collections.deque()
        self._default_fault: str | None = None
        self._stop_stalls = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue_faults(self, *faults: str) -> None:
        """The next ``len(faults)`` requests misbehave in these ways, in order."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; valid: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def set_default_fault(self, fault: str | None) -> None:
        """Misbehave this way on every request without a queued fault (None: answer normally)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid: {', '.join(FAULTS)}")
        self._default_fault = fault

    def start(self) -> FakeOpenAIServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Die: stop serving, drop open connections and close the listening socket (later connections are
        refused). Safe to call twice."""
        self._stop_stalls.set()
        self._stop_listening()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def die(self) -> None:
        """Die now, also from inside a request: later requests are dropped unanswered and the server stops
        (in a background thread, so a handler may call this)."""
        with self._lock:
            if self._dead:
                return
            self._dead = True
        # Established connections stay open (a reply being read is not cut off); requests on them are
        # dropped by the handler, and new connections are refused once the listening socket is closed.
        threading.Thread(target=self._stop_listening, daemon=True).start()

    def _stop_listening(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ------------------------------------------------------------------------------
    def _wait_at_gate(self, token: int) -> None:
        """Hold request ``token`` until the gate picks it (see the module docstring)."""
        assert self.gate is not None
        with self._cond:
            self._held.append(token)
            self._cond.notify_all()
            deadline = time.monotonic() + self.gate_timeout
            while token not in self._released:
                need = self.gate if self.expected is None else min(self.gate, self.expected - self._answered)
                if len(self._held) >= need and self._held:
                    self._pick()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.starved += 1
                    self._pick()
                    deadline = time.monotonic() + self.gate_timeout
                    continue
                self._cond.wait(remaining)
            self._released.discard(token)

    def _pick(self) -> None:
        """Release one held request at random (the caller holds ``_cond``)."""
        chosen = self._held.pop(self._gate_rng.randrange(len(self._held)))
        self._answered += 1
        self._released.add(chosen)
        self._cond.notify_all()

    def _next_fault(self) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
        return self._default_fault

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(obj).encode(), headers)

            def _refused(self) -> bool:
                """401 with the headers echoed when the server wants a key and did not get it."""
                if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return False
                self._json(401, {"error": {"message": "invalid key", "headers": dict(self.headers.items())}})
                return True

            def do_GET(self) -> None:
                if self._refused():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    models = [{"id": m, "object": "model"} for m in server.models]
                    self._json(200, {"object": "list", "data": models})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self._refused():
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._json(400, {"error": {"message": "request body is not JSON"}})
                    return
                with server._lock:
                    # Past the die_after-th request the server is dead, even before die() has run.
                    full = server.die_after is not None and len(server.requests) >= server.die_after
                    dead = server._dead or full
                    if not dead:
                        server.requests.append(body)
                        server.headers.append({k.lower(): v for k, v in self.headers.items()})
                        server._in_flight += 1
                        server.max_in_flight = max(server.max_in_flight, server._in_flight)
                        server.in_flight_at_arrival.append(server._in_flight)
                        token = len(server.requests)
                    dies_now = (
                        not dead and server.die_after is not None and len(server.requests) == server.die_after
                    )
                if dead:
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    if server.gate is not None:
                        server._wait_at_gate(token)
                    self._answer(body)
                finally:
                    with server._lock:
                        server._in_flight -= 1
                    if dies_now:
                        server.die()

            def _answer(self, body: dict[str, Any]) -> None:
                fault = server._next_fault()
                if server.latency:
                    time.sleep(server.latency)
                with server._lock:
                    server.statuses.append(fault or 200)
                if fault == "stall":
                    server._stop_stalls.wait(server.stall_seconds)
                    fault = None
                if fault == "401":
                    echoed = {"message": "refused", "headers": dict(self.headers.items())}
                    self._json(401, {"error": echoed})
                    return
                if fault in ("500", "503", "400"):
                    self._json(
                        int(fault), {"error": {"message": f"scripted {fault}", "type": "server_error"}}
                    )
                    return
                if fault == "429":
                    self._json(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
                    return
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "garbage":
                    self._send(200, b"<html>this is not json")
                    return
                if fault == "empty":
                    self._json(200, {"id": "x", "object": "chat.completion", "choices": []})
                    return
                content = None if fault == "null" else server.script(body)
                self._json(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", server.model),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

        return Handler


def main() -> None:
    """Serve until interrupted (answers "A." to everything)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeOpenAIServer(port=args.port, latency=args.latency).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
