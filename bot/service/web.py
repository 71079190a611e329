"""The service's one aiohttp app: /healthz, /status, /metrics, Slack's /slack/events,
Telegram's webhook.

/healthz is for anyone who can reach the port (Docker's HEALTHCHECK, a load balancer): ok or
not, and counts. The detail (chat ids, errors, LLM spend) is at /status, behind the bearer token
PAPERDIGEST_STATUS_TOKEN; without that token the route does not exist (404). /metrics is the
Prometheus text format (`digest.metrics`: counts, no chat ids), behind the same token when one is
set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from digest import DEFAULTS, METRICS, Settings, Store, status_report, store_unreachable

log = logging.getLogger(__name__)
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TASKS = web.AppKey("tasks", set)  # the loop's tasks not done yet (see _keep_tasks)


def build_web_app(
    store: Store | None = None,
    slack: Any | None = None,
    telegram: Any | None = None,
    telegram_secret: str = "",
    settings: Settings = DEFAULTS,
    status_token: str = "",
) -> web.Application:
    """Routes for what is on: the store's /healthz (and /status with a token), Bolt, PTB."""
    app = web.Application()
    app.on_startup.append(_keep_tasks)
    if store is not None:
        app.router.add_get("/healthz", _health(store, settings))
        if status_token:
            app.router.add_get("/status", _status(store, settings, status_token))
        app.router.add_get("/metrics", _metrics(status_token))
    if slack is not None:
        app.router.add_post("/slack/events", _slack(slack))
    if telegram is not None:
        app.router.add_post("/telegram", _telegram(telegram, telegram_secret))
    return app


async def _keep_tasks(app: web.Application) -> None:
    """Hold every task of the server's loop until it is done. Bolt starts each listener with
    `asyncio.ensure_future` and keeps no reference; the loop keeps only a weak one, so a
    pending answer could be garbage-collected mid-way and never sent."""
    loop = asyncio.get_running_loop()
    made = loop.get_task_factory()
    held: set[asyncio.Future[Any]] = set()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Future[Any]:
        task = made(loop, coro, **kw) if made else asyncio.Task(coro, loop=loop, **kw)
        held.add(task)
        task.add_done_callback(held.discard)
        return task

    loop.set_task_factory(factory)
    app[TASKS] = held


def _health(store: Store, settings: Settings) -> Any:
    async def healthz(request: web.Request) -> web.Response:
        """Ok and counts only, nothing that names a chat; 503 when the store cannot be read, or
        cannot be written (SQLite locked by another process beyond a second)."""
        try:
            report = await asyncio.to_thread(status_report, store, settings)
            await asyncio.to_thread(store.check_writable)
        except Exception as exc:  # the store is down: say so, do not crash the server
            log.warning("healthz: the store cannot be read or written (%s)", type(exc).__name__)
            if store_unreachable(exc):
                METRICS.STORE_ERRORS.labels("healthz").inc()
            return web.json_response({"ok": False}, status=503, dumps=json.dumps)
        body = {
            "ok": True,
            "subscriptions": len(report["subscriptions"]),
            "problems": len(report["problems"]),
            "delivery_problems": report["delivery_problems"],
        }
        return web.json_response(body, dumps=json.dumps)

    return healthz


def _status(store: Store, settings: Settings, token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def status(request: web.Request) -> web.Response:
        """The full status report, for `Authorization: Bearer <PAPERDIGEST_STATUS_TOKEN>`."""
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            body, code = await asyncio.to_thread(status_report, store, settings), 200
        except Exception as exc:  # the store is down: say so, do not crash the server
            body, code = {"ok": False, "error": type(exc).__name__}, 503
            if store_unreachable(exc):
                METRICS.STORE_ERRORS.labels("status").inc()
        return web.json_response(body, status=code, dumps=json.dumps)

    return status


def _metrics(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def scrape(request: web.Request) -> web.Response:
        """The counters in Prometheus' text format; with a token set, only for its bearer."""
        given = request.headers.get("Authorization", "").encode()
        if token and not hmac.compare_digest(given, expected):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = METRICS.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    return scrape


def _slack(bolt: Any) -> Any:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

    async def events(request: web.Request) -> web.Response:
        """Slash commands, events and button actions, verified by Bolt's signature check."""
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return events


def _telegram(application: Any, secret: str) -> Any:
    from telegram import Update

    async def webhook(request: web.Request) -> web.Response:
        """An update from Telegram; refused (403) without the webhook's secret."""
        given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not a Telegram update")
        await application.update_queue.put(update)
        return web.Response()

    return webhook


async def start_sites(
    app: web.Application, addresses: list[tuple[str, int]]
) -> tuple[web.AppRunner, list[tuple[str, int]]]:
    """Listen on each (host, port), port 0 picking a free one: the runner, and where each of
    `addresses` listens, in their order (an address given twice is one site)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    bound: dict[tuple[str, int], tuple[str, int]] = {}
    for host, port in dict.fromkeys(addresses):
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound[host, port] = site._server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
    return runner, [bound[address] for address in addresses]
