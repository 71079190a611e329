"""`paperdigest serve`: chat front ends, the daily schedule and /healthz on one event loop.

Slack (Bolt's AsyncApp), Telegram (python-telegram-bot's Application) and APScheduler's
AsyncIOScheduler share one asyncio loop; /healthz, /slack/events and the Telegram webhook are
routes of one aiohttp app. CPU work (embedding) runs in worker threads. Every side effect that
two workers could both attempt is claimed in the store, so any number of `serve` processes may
share one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
from threadpoolctl import threadpool_limits

from bot.chat import Deps
from bot.platforms import Sender, slack_pace, telegram_pace
from bot.service.outbox import STOPPING
from bot.service.schedule import DailyScheduler
from bot.service.web import build_web_app, start_sites
from bot.service.zotero_sync import ZoteroSync
from digest import (
    WORKER,
    ConfigError,
    Criteria,
    DayListing,
    Scorer,
    Secrets,
    Settings,
    Store,
    embedding_of,
    fetch_listing,
    load_secrets,
    make_scorer,
    owner,
    renewed,
    resolve_scorer,
)

log = logging.getLogger("paperdigest")

Stop = Callable[[], Awaitable[Any]]
GC_THRESHOLDS = (50_000, 20, 100)  # Python's: (700, 10, 10); young cycles are still collected
WORK_NICE = 10  # how much nicer than the loop's thread the work threads run (Linux): see serve


def serve(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Run until SIGTERM or SIGINT; the message being posted is finished first.

    NumPy's BLAS runs in the calling thread: a worker scores several chats' days at once in
    its threads, and BLAS's own threads, one per core, spun against them (a criteria's
    scoring took 190 to 230 ms of CPU on a busy 2-core machine, 86 ms with one thread).

    The garbage collector runs less often (GC_THRESHOLDS): with a day's rankings in memory
    each full collection held the event loop 200 to 430 ms, several times a minute while
    the chats were built, and the bot's moments to send passed meanwhile.

    The work threads (asyncio.to_thread: the builds, the store's reads and writes) run
    WORK_NICE nicer than the loop's thread and the pace's: while the builds keep both cores
    busy, a message's answer is heard sooner, and the pace lets the next one go sooner (2,000
    chats on 2 cores: Telegram 506-521 messages per 20 s, 535-549 with them nicer)."""
    gc.set_threshold(*GC_THRESHOLDS)
    with threadpool_limits(1, user_api="blas"):
        asyncio.run(run_service(settings, env))


async def run_service(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    stop = asyncio.Event()
    STOPPING.clear()  # a service started again in this process delivers again
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.set_default_executor(_work_threads())
    store = Store.open(settings.database)
    lease = timedelta(seconds=settings.serve.lease_seconds)

    def scorer_for(criteria: Criteria) -> Scorer:
        return make_scorer(settings.scoring.scorer, store, criteria, settings, env)

    async def fetch(categories: tuple[str, ...]) -> DayListing:
        async with httpx.AsyncClient(timeout=settings.arxiv.timeout, follow_redirects=True) as c:
            return await fetch_listing(settings, c, categories=categories)

    senders: dict[str, Sender] = {}

    # the day's papers embedded once, for the local scorer (the cascade's too); not for the LLM
    embed = functools.partial(embedding_of, store)
    embeds = resolve_scorer(settings.scoring.scorer, env) != "llm"
    daily = DailyScheduler(
        store, fetch, senders, scorer_for, lease=lease, days=settings.serve.days,
        keep_days=settings.store.keep_days, prepare=embed if embeds else None,
    )  # fmt: skip
    deps = Deps(store, settings, scorer_for, on_change=daily.reschedule)
    ZoteroSync(store, settings, lease=lease).add_to(daily.scheduler)
    secrets = load_secrets(env)
    slack, telegram = _slack_app(deps, secrets), _telegram_app(deps, secrets)
    session: aiohttp.ClientSession | None = None
    if slack is not None:
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.platforms import SlackSender

        # the digests' messages share kept connections (slack_sdk opens one for each call
        # without a session; Bolt's own client keeps none: it copies a request's client for
        # its lazy listeners, and a session cannot be copied)
        session = aiohttp.ClientSession()
        client = AsyncWebClient(token=secrets.slack_bot_token, base_url=slack.client.base_url,
                                session=session)  # fmt: skip
        senders["slack"] = SlackSender(client, slack_pace(settings))
    if telegram is not None:
        from bot.platforms import TelegramSender

        senders["telegram"] = TelegramSender(telegram.bot, telegram_pace(settings))

    secret = secrets.telegram_webhook_secret
    webhook = telegram is not None and settings.telegram.mode == "webhook"
    web_app = build_web_app(
        store, slack if slack and not secrets.slack_app_token else None,
        telegram if webhook else None, secret, settings, status_token=secrets.status_token,
    )  # fmt: skip
    addresses = [(settings.serve.health_host, settings.serve.health_port)]
    if slack is not None and not secrets.slack_app_token:
        addresses.append((settings.slack.host, settings.slack.port))
    if webhook:
        addresses.append((settings.telegram.host, settings.telegram.port))
    stops: list[tuple[str, Stop]] = []
    runner, ports = await start_sites(web_app, addresses)
    stops.append(("web", runner.cleanup))
    if session is not None:  # closed last, once nothing sends
        stops.append(("slack's connections", session.close))
    log.info("healthz on %s:%s/healthz", *ports[0])
    if secrets.status_token:
        log.info("status on %s:%s/status (bearer token)", *ports[0])
    try:
        if slack is not None:
            stops.insert(0, ("slack", await _start_slack(slack, secrets, ports)))
        if telegram is not None:
            end = await _start_telegram(telegram, settings, secret, store, lease)
            stops.insert(0, ("telegram", end))
        daily.start()
        stops.insert(0, ("schedule", daily.shutdown))
        log.info("serving as %s: %s", WORKER, ", ".join(name for name, _ in reversed(stops)))
        await stop.wait()
    finally:
        STOPPING.set()  # deliveries finish the message in flight and stop
        for name, end in stops:
            try:
                await end()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("%s did not stop cleanly", name)
        store.close()
    log.info("stopped")


def _work_threads() -> ThreadPoolExecutor:
    """asyncio's default executor, its threads WORK_NICE nicer than the caller's (on Linux a
    thread has a niceness of its own; elsewhere they run as before)."""

    def nicer() -> None:
        if sys.platform != "linux":
            return
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            niceness = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + WORK_NICE))

    workers = min(32, (os.cpu_count() or 1) + 4)  # asyncio's own default
    return ThreadPoolExecutor(workers, thread_name_prefix="work", initializer=nicer)


def _slack_app(deps: Deps, secrets: Secrets) -> Any | None:
    """Socket Mode with SLACK_APP_TOKEN, else HTTP mode verified by SLACK_SIGNING_SECRET."""
    token = secrets.slack_bot_token
    if not token:
        return None
    if not (secrets.slack_app_token or secrets.slack_signing_secret):
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor "
            "SLACK_APP_TOKEN (Socket Mode) is; set one of them"
        )
    from bot.platforms import build_app

    settings = deps.settings.slack
    return build_app(deps, token, secrets.slack_signing_secret, settings.api_url)


async def _start_slack(app: Any, secrets: Secrets, ports: list[tuple[str, int]]) -> Stop:
    if secrets.slack_app_token:
        from bot.platforms import start_socket_mode

        handler = await start_socket_mode(app, secrets.slack_app_token)
        log.info("slack: socket mode")
        return handler.close_async
    host, port = ports[1]  # after /healthz's
    log.info("slack: HTTP mode on %s:%s/slack/events", host, port)

    async def nothing_to_close() -> None:
        return None

    return nothing_to_close


def _telegram_app(deps: Deps, secrets: Secrets) -> Any | None:
    token = secrets.telegram_bot_token
    if not token:
        return None
    settings = deps.settings.telegram
    if settings.mode == "webhook" and not (
        secrets.telegram_webhook_secret and settings.webhook_url
    ):
        raise ConfigError(
            "telegram.mode is 'webhook': set telegram.webhook_url and TELEGRAM_WEBHOOK_SECRET"
        )
    from bot.platforms import build_application

    return build_application(deps, token, settings.api_url)


async def _start_telegram(
    app: Any, settings: Settings, secret: str, store: Store, lease: timedelta
) -> Stop:
    """A webhook on the web app that refuses requests without the secret, or long polling.

    Telegram lets one client poll a bot at a time: the worker holding the `poll:telegram`
    claim polls; the others send only, and one of them takes over when its lease ends.
    """
    from bot.platforms import register_commands

    await app.initialize()
    await register_commands(app)
    await app.start()
    if settings.telegram.mode == "webhook":
        await app.bot.set_webhook(url=settings.telegram.webhook_url, secret_token=secret)
        log.info("telegram: webhook")
        poller = None
    else:
        poller = asyncio.create_task(_poll_when_leader(app, store, lease))

    async def end() -> None:
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await app.stop()
        await app.shutdown()

    return end


async def _poll_when_leader(app: Any, store: Store, lease: timedelta) -> None:
    key, who = "poll:telegram", owner()
    try:
        for attempt in itertools.count():
            if await asyncio.to_thread(store.claim, key, who, lease) is not None:
                await app.updater.start_polling()
                log.info("telegram: polling")
                async with renewed(store, key, who, lease):
                    await asyncio.Event().wait()  # until cancelled at shutdown
            if attempt == 0:
                log.info(
                    "telegram: another worker polls; this one sends, and takes over if it stops"
                )
            await asyncio.sleep(lease.total_seconds() / 2)
    finally:
        if app.updater.running:
            await app.updater.stop()
            await asyncio.to_thread(store.release, key, who, "retry")  # the next may take it
