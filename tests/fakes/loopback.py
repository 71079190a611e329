"""The lifecycle every fake shares: a ThreadingHTTPServer on 127.0.0.1:<free port> in a thread."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Counting(ThreadingHTTPServer):
    """Counts the TCP connections it accepts: a client that keeps its connection makes one."""

    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


class Loopback:
    """Subclasses give `handler()`; `with Fake() as fake:` starts and stops the server."""

    _server: _Counting | None = None
    _thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        server = _Counting(("127.0.0.1", 0), self.handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02},
            name=type(self).__name__, daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, f"{type(self).__name__} is not started"
        return self._server.server_address[1]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return self._server.connections if self._server is not None else 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _settle(timeout: float = 10) -> None:
    """Let the tasks still running on this loop finish (a listener Bolt acked whose reply has
    reached the fake but whose HTTP session is still closing), then cancel what is left.

    A loop stopped with tasks pending is destroyed by a later garbage collection, in whatever
    test runs then, and the destroyed coroutines run their cleanup inside that test."""
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class WebThread:
    """One of the product's aiohttp apps on 127.0.0.1:<free port>, on its own event loop in a
    thread, so that a synchronous test can talk to it over HTTP."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="web", daemon=True)
        self._runner: Any = None
        self.port = 0  # where the app listens, once started

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the app's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        from bot.service.web import start_sites

        self._thread.start()
        self._runner, [(_, self.port)] = self.run(start_sites(self.app, [("127.0.0.1", 0)]))
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self._runner.cleanup())
        self.run(_settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()
