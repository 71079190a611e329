"""The Slack fake speaks the Web API protocol to the real slack_sdk and slack_bolt."""

from __future__ import annotations

import asyncio
import json
import types
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-test"


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(first_ts=1_700_000_000) as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.url, token=TOKEN, timeout=5)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry handler's sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def test_url_is_a_loopback_api_base(fake: FakeSlack) -> None:
    assert fake.url == f"http://127.0.0.1:{fake.port}/api/"


def test_post_message_is_answered_and_recorded_with_blocks_decoded(
    fake: FakeSlack, client: WebClient
) -> None:
    blocks = [section("*hello*"), {"type": "divider"}]
    resp = client.chat_postMessage(channel="C1", text="hello", blocks=blocks)

    assert resp["ok"] is True
    assert resp["channel"] == "C1"
    assert resp["ts"] == "1700000000.000100"
    assert resp["message"]["text"] == "hello"
    assert resp["message"]["blocks"] == blocks
    (call,) = fake.calls_to("chat.postMessage")
    assert call.token == TOKEN
    assert call.params["blocks"] == blocks
    assert call.params["channel"] == "C1"
    assert call.status == 200
    assert fake.count("chat.postMessage") == 1
    assert fake.posted_texts() == ["hello"]
    assert fake.posted_texts("C2") == []


def test_ts_are_unique_and_increasing_and_threads_are_echoed(client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="a")["ts"]
    reply = client.chat_postMessage(channel="C1", text="b", thread_ts=first)
    assert reply["message"]["thread_ts"] == first
    assert float(reply["ts"]) > float(first)
    assert reply["ts"] == "1700000000.000200"


def test_form_encoded_blocks_and_get_query_are_parsed(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("form")]
    client.api_call(
        "chat.postMessage", params={"channel": "C9", "text": "f", "blocks": json.dumps(blocks)}
    )
    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == blocks

    # AsyncWebClient sends conversations.info as GET with a query string
    url = f"{fake.url}conversations.info?channel=C9&token={TOKEN}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        info = json.loads(resp.read())
    (call,) = fake.calls_to("conversations.info")
    assert (call.http_method, call.token) == ("GET", TOKEN)
    channel = info["channel"]
    assert channel["id"] == "C9"
    assert channel["is_archived"] is False
    assert channel["is_member"] is True
    assert channel["name"]


def test_rate_limit_is_retried_by_the_sdk_handler(
    fake: FakeSlack, client: WebClient, sleeps: list[float]
) -> None:
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.rate_limit_next("chat.postMessage", retry_after=0)

    resp = client.chat_postMessage(channel="C1", text="after the wait")

    assert resp["ok"] is True
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    assert len(sleeps) == 1 and 0 <= sleeps[0] < 1  # Retry-After 0 (+ the SDK's jitter)
    assert fake.posted_texts() == ["after the wait"]


def test_rate_limit_without_retry_surfaces_429_and_retry_after(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C1", text="y")["ok"] is True


def test_fail_next_raises_slack_api_error_then_recovers(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", "channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C1", text="x")
        assert err.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True
    assert fake.count("chat.postMessage") == 3
    assert fake.posted_texts() == ["x"]


def test_block_kit_limits_are_enforced(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 51)
    assert err.value.response["error"] == "invalid_blocks"
    assert "must be less than 51 items" in err.value.response["errors"][0]

    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x", blocks=[section("a" * 3001)])
    assert err.value.response["error"] == "invalid_blocks"

    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="a" * 40001)
    assert err.value.response["error"] == "msg_too_long"

    ok = client.chat_postMessage(channel="C1", text="x", blocks=[section("a" * 3000)] * 50)
    assert ok["ok"] is True


def test_channel_failures_persist_and_join_fixes_not_in_channel(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.fail_channel("C2", "not_in_channel")
    fake.fail_channel("C3", "is_archived")
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C2", text="x")
        assert err.value.response["error"] == "not_in_channel"
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is False
    assert client.conversations_info(channel="C3")["channel"]["is_archived"] is True

    client.conversations_join(channel="C2")
    assert client.chat_postMessage(channel="C2", text="in")["ok"] is True
    with pytest.raises(SlackApiError) as err:
        client.conversations_join(channel="C3")
    assert err.value.response["error"] == "is_archived"


def test_invalid_auth_and_server_errors(fake: FakeSlack, client: WebClient) -> None:
    fake.server_error_next("auth.test", status=503)
    with pytest.raises(SlackApiError) as err:
        client.auth_test()
    assert err.value.response.status_code == 503

    fake.invalid_auth()
    with pytest.raises(SlackApiError) as err:
        client.auth_test()
    assert err.value.response["error"] == "invalid_auth"

    fake.reset()
    assert fake.calls == []
    assert client.auth_test()["ok"] is True


def test_method_payloads(fake: FakeSlack, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"], auth["team"]) == (
        "UBOT",
        "BBOT",
        "T1",
        "Test",
    )
    fake.users_admin.add("UADMIN")
    assert client.users_info(user="UADMIN")["user"]["is_admin"] is True
    user = client.users_info(user="U2")["user"]
    assert (user["id"], user["is_admin"]) == ("U2", False)
    assert user["name"] and user["real_name"]

    posted = client.chat_postMessage(channel="C1", text="v1")
    updated = client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"]
    assert fake.posted_texts("C1") == ["v2"]
    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C1/p1700000000000100")
    eph = client.chat_postEphemeral(channel="C1", user="U2", text="psst")
    assert eph["message_ts"] > posted["ts"]
    view = client.views_open(trigger_id="t1", view={"type": "modal", "blocks": []})
    assert view["view"]["id"]

    with pytest.raises(SlackApiError) as err:
        client.api_call("apps.connections.open")
    assert err.value.response["error"] == "not_allowed"
    with pytest.raises(SlackApiError) as err:
        client.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    webhook = WebhookClient(fake.response_url("cmd-1"), timeout=5)
    resp = webhook.send(text="ranked", response_type="ephemeral", blocks=[section("x")])
    assert (resp.status_code, resp.body) == (200, "ok")
    (call,) = fake.calls_to("response_url")
    assert call.params["text"] == "ranked"
    assert call.params["blocks"] == [section("x")]
    assert call.params["_response_id"] == "cmd-1"
    assert call.token is None

    bad = webhook.send(text="x", blocks=[section("b")] * 51)
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")


def test_bolt_app_talks_to_the_fake(fake: FakeSlack) -> None:
    from slack_bolt import App

    app = App(client=WebClient(base_url=fake.url, token=TOKEN), signing_secret="s")
    assert fake.count("auth.test") == 1  # bolt verifies the token at start-up
    app.client.chat_postMessage(channel="C1", text="from bolt")
    assert fake.posted_texts("C1") == ["from bolt"]


def test_async_web_client(fake: FakeSlack) -> None:
    pytest.importorskip("aiohttp")
    from slack_sdk.web.async_client import AsyncWebClient

    async def scenario() -> tuple[str, str]:
        client = AsyncWebClient(base_url=fake.url, token=TOKEN, timeout=5)
        posted = await client.chat_postMessage(channel="C1", text="async", blocks=[section("a")])
        fake.fail_next("users.info", "user_not_found")
        try:
            await client.users_info(user="U404")
        except SlackApiError as err:
            return posted["ts"], err.response["error"]
        return posted["ts"], "no error"

    ts, error = asyncio.run(scenario())
    assert ts == "1700000000.000100"
    assert error == "user_not_found"
    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == [section("a")]
