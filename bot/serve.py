"""`paperdigest serve`: the long-running process: chat front ends (and, later, the schedule)."""

from __future__ import annotations

import logging
import os
import signal
import threading

from bot.commands import Deps
from digest.config import Settings
from digest.errors import ConfigError
from digest.scoring.factory import make_scorer
from digest.store import Store

log = logging.getLogger("paperdigest")


def start_slack(deps: Deps, env: dict[str, str]) -> object | None:
    """Socket Mode with SLACK_APP_TOKEN, else HTTP mode verified by SLACK_SIGNING_SECRET."""
    token = env.get("SLACK_BOT_TOKEN")
    if not token:
        return None
    from bot.slack import build_app, serve_http, serve_socket_mode

    settings = deps.settings.slack
    if env.get("SLACK_APP_TOKEN"):
        app = build_app(deps, token, env.get("SLACK_SIGNING_SECRET", ""), settings.api_url)
        log.info("slack: socket mode")
        return serve_socket_mode(app, env["SLACK_APP_TOKEN"])
    if not env.get("SLACK_SIGNING_SECRET"):
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor "
            "SLACK_APP_TOKEN (Socket Mode) is; set one of them"
        )
    app = build_app(deps, token, env["SLACK_SIGNING_SECRET"], settings.api_url)
    server = serve_http(app, settings.host, settings.port)
    log.info("slack: HTTP mode on %s:%s/slack/events", settings.host, server.server_port)
    return server


def serve(settings: Settings, env: dict[str, str] | None = None) -> None:
    """Start every enabled platform and wait for SIGTERM or SIGINT."""
    env = dict(os.environ if env is None else env)
    store = Store(settings.database.dsn)
    deps = Deps(store, settings, lambda c: make_scorer(settings.scoring.scorer, store, c, settings))
    started = [name for name, handle in (("slack", start_slack(deps, env)),) if handle]
    log.info("serving: %s", ", ".join(started) or "no chat platform (set SLACK_BOT_TOKEN)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    log.info("stopped")
