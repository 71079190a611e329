"""`paperdigest serve`: chat front ends, the daily schedule and /healthz in one process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable

import httpx

from bot.commands import Deps
from bot.delivery import STOPPING
from bot.health import serve_health
from bot.platforms import senders
from bot.schedule import DailyScheduler
from digest.config import Settings
from digest.criteria import Criteria
from digest.errors import ConfigError
from digest.pipeline import DayListing, fetch_listing
from digest.scoring import Scorer
from digest.scoring.factory import make_scorer
from digest.store import Store

log = logging.getLogger("paperdigest")

Stop = Callable[[], None]


def start_slack(deps: Deps, env: dict[str, str]) -> Stop | None:
    """Socket Mode with SLACK_APP_TOKEN, else HTTP mode verified by SLACK_SIGNING_SECRET."""
    token = env.get("SLACK_BOT_TOKEN")
    if not token:
        return None
    from bot.slack import build_app, serve_http, serve_socket_mode

    settings = deps.settings.slack
    if env.get("SLACK_APP_TOKEN"):
        app = build_app(deps, token, env.get("SLACK_SIGNING_SECRET", ""), settings.api_url)
        log.info("slack: socket mode")
        return serve_socket_mode(app, env["SLACK_APP_TOKEN"]).close
    if not env.get("SLACK_SIGNING_SECRET"):
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor "
            "SLACK_APP_TOKEN (Socket Mode) is; set one of them"
        )
    app = build_app(deps, token, env["SLACK_SIGNING_SECRET"], settings.api_url)
    server = serve_http(app, settings.host, settings.port)
    log.info("slack: HTTP mode on %s:%s/slack/events", settings.host, server.server_port)
    return server.shutdown


def start_telegram(deps: Deps, env: dict[str, str]) -> Stop | None:
    """Long polling, or a webhook that refuses requests without TELEGRAM_WEBHOOK_SECRET."""
    token = env.get("TELEGRAM_BOT_TOKEN")
    if not token:
        return None
    from bot.telegram import build_application, register_commands

    settings = deps.settings.telegram
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "")
    if settings.mode == "webhook" and not (secret and settings.webhook_url):
        raise ConfigError(
            "telegram.mode is 'webhook': set telegram.webhook_url and TELEGRAM_WEBHOOK_SECRET"
        )
    app = build_application(deps, token, settings.api_url)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def begin() -> None:
        await app.initialize()
        await register_commands(app)
        await app.start()
        if settings.mode == "webhook":
            await app.updater.start_webhook(
                listen=settings.host, port=settings.port, url_path="telegram",
                secret_token=secret, webhook_url=settings.webhook_url,
            )  # fmt: skip
        else:
            await app.updater.start_polling()
        log.info("telegram: %s", settings.mode)

    async def end() -> None:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(begin())
        finally:
            ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="telegram", daemon=True).start()
    ready.wait()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(end(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)

    return stop


def serve(settings: Settings, env: dict[str, str] | None = None) -> None:
    """Start the schedule, /healthz and every enabled platform; stop on SIGTERM or SIGINT."""
    env = dict(os.environ if env is None else env)
    finished = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: finished.set())
    signal.signal(signal.SIGINT, lambda *_: finished.set())
    store = Store(settings.database.dsn)

    def scorer_for(criteria: Criteria) -> Scorer:
        return make_scorer(settings.scoring.scorer, store, criteria, settings, env)

    async def fetch(categories: tuple[str, ...]) -> DayListing:
        async with httpx.AsyncClient(timeout=settings.arxiv.timeout, follow_redirects=True) as c:
            return await fetch_listing(settings, c, categories=categories)

    daily = DailyScheduler(store, fetch, lambda: senders(settings, env), scorer_for)
    deps = Deps(store, settings, scorer_for, on_change=daily.reschedule)
    health = serve_health(store, settings.serve.health_host, settings.serve.health_port)
    log.info("healthz on %s:%s/healthz", settings.serve.health_host, health.server_port)
    running: dict[str, Stop] = {}
    for name, start in (("slack", start_slack), ("telegram", start_telegram)):
        stop = start(deps, env)
        if stop:
            running[name] = stop
    daily.start()
    running["schedule"] = daily.shutdown
    running["healthz"] = health.shutdown
    log.info("serving: %s", ", ".join(running))
    finished.wait()
    STOPPING.set()  # deliveries finish the message in flight and stop
    for name, stop in running.items():
        try:
            stop()
        except Exception:  # one part failing to stop must not keep the others running
            log.exception("%s did not stop cleanly", name)
    log.info("stopped")
