"""A .bib file sent to the bot on Slack (file_shared, files.info, url_private with the bot token)
and on Telegram (a document, getFile, the file URL), through the real SDKs: its entries with an
arXiv id, or a DOI Semantic Scholar maps to one, become wanted examples as `like` makes them,
and the reply names the others by citation key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest

from bot.chat.commands import Context, Deps, handle
from bot.chat.commands.library import read_bib
from bot.platforms.slack import build_app
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria
from digest.library import entry_of
from digest.papers import Paper, read_sample
from digest.scoring.factory import make_scorer
from digest.scoring.learning import label_counts
from digest.store import Store
from tests.conftest import process_updates
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.loopback import WebThread
from tests.fakes.semantic_scholar import FakeSemanticScholar
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.test_slack import SECRET, TOKEN, signed

TG_TOKEN = "123456:TEST-token_abc"
GROUP, OWNER, MEMBER = -1001, 11, 22


@dataclass
class Library:
    """A .bib of 30 entries and what should come of it."""

    bib: bytes
    added: set[str]  # arXiv ids that become examples
    unresolved: dict[str, str]  # citation key -> a word of the reason


def _entry(key: str, **fields: str) -> str:
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in {"title": f"Paper {key}", **fields}.items())
    return f"@article{{{key},\n{body}\n}}\n"


@pytest.fixture
def library() -> tuple[Library, list[Paper], dict[str, str]]:
    """30 entries: 14 naming arXiv ids four ways, 10 DOIs Semantic Scholar maps to arXiv ids,
    2 DOIs of papers without an arXiv version, 1 unknown DOI, 1 id arXiv does not know, 2
    with neither; the papers arXiv serves, and the DOIs Semantic Scholar knows."""
    sample = read_sample()[:24]
    papers = [replace(p, id=f"2601.{91000 + i}") for i, p in enumerate(sample)]
    ids = [p.id for p in papers]
    text, unresolved, dois = "", {}, {}
    forms = [
        lambda i: {"eprint": i, "archivePrefix": "arXiv", "primaryClass": "cs.LG"},
        lambda i: {"url": f"https://arxiv.org/abs/{i}v2"},
        lambda i: {"journal": f"arXiv preprint arXiv:{i}"},
        lambda i: {"doi": f"10.48550/arXiv.{i}"},
    ]
    for n, i in enumerate(ids[:14]):
        text += _entry(f"arxiv{n}", **forms[n % 4](i))
    for n, i in enumerate(ids[14:]):
        dois[f"10.1145/{3600000 + n}"] = i
        text += _entry(f"doi{n}", doi=f"https://doi.org/10.1145/{3600000 + n}")
    for n in range(2):
        dois[f"10.1038/s41586-0{n}"] = ""
        text += _entry(f"nature{n}", doi=f"10.1038/s41586-0{n}", journal="Nature")
        unresolved[f"nature{n}"] = "no arXiv version"
    text += _entry("unknowndoi", doi="10.9999/nothing.here")
    unresolved["unknowndoi"] = "unknown to Semantic Scholar"
    text += _entry("gone", eprint="2601.99999", archivePrefix="arXiv")
    unresolved["gone"] = "not found on arXiv"
    text += _entry("book1", publisher="MIT Press") + "@comment{a note}\n"
    text += "@misc{talk2,\n  title = {A talk},\n  howpublished = {NeurIPS}\n}\n"
    unresolved |= {"book1": "no arXiv id or DOI", "talk2": "no arXiv id or DOI"}
    return Library(text.encode(), set(ids), unresolved), papers, dois


@pytest.fixture
def deps(scored_store: Store, library) -> Iterator[Deps]:
    """The command core, its arXiv and Semantic Scholar on loopback, C1 and GROUP subscribed."""
    _, papers, dois = library
    with FakeArxiv(papers=papers) as arxiv, FakeSemanticScholar(dois) as s2:
        env = {"PAPERDIGEST_ARXIV_EXPORT_URL": arxiv.api_url_format,
               "PAPERDIGEST_ARXIV_EXPORT_DELAY": "0",
               "PAPERDIGEST_LIBRARY_DOI_URL": s2.url}  # fmt: skip
        settings = load_settings(env=env)
        deps = Deps(scored_store, settings,
                    lambda c: make_scorer("local", scored_store, c, settings))  # fmt: skip
        for ctx in (Context("slack", "C1", "UOWNER"), Context("telegram", str(GROUP), str(OWNER))):
            assert asyncio.run(handle("subscribe", ctx, deps)).title == "Subscribed"
        deps.s2 = s2  # type: ignore[attr-defined]
        yield deps


def examples(deps: Deps, criteria: Criteria, sub: str) -> set[str]:
    from digest.examples import of_chat

    return set(of_chat(deps.store, criteria, sub))


def check_reply(text: str, lib: Library) -> None:
    assert "24 wanted examples added from refs.bib" in text, text
    assert "30 entries read: 24 added, 6 not" in text, text
    for key, why in lib.unresolved.items():
        assert f"{key}: " in text and why in text, (key, text)


@pytest.fixture
def bolt(slack: FakeSlack, deps: Deps) -> Iterator[str]:
    app = build_app(deps, TOKEN, SECRET, base_url=slack.url)
    with WebThread(build_web_app(slack=app)) as server:
        yield f"http://127.0.0.1:{server.port}/slack/events"


def share(url: str, file_id: str, user: str, channel: str = "C1") -> None:
    """Slack's file_shared event, signed, into the Bolt app."""
    payload = {
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
        "event_id": f"Ev{file_id}{user}", "event_time": int(time.time()),
        "event": {"type": "file_shared", "channel_id": channel, "file_id": file_id,
                  "user_id": user, "file": {"id": file_id}, "event_ts": "1700000000.000100"},
    }  # fmt: skip
    body = json.dumps(payload)
    headers = {**signed(body), "Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200


def test_a_bib_shared_on_slack_adds_the_resolvable_entries_and_names_the_others(
    bolt: str, slack: FakeSlack, deps: Deps, criteria: Criteria, library
) -> None:
    lib = library[0]
    file_id = slack.add_file("refs.bib", lib.bib, user="UOWNER", channel="C1")
    share(bolt, file_id, "UOWNER")
    posted = slack.wait_for("chat.postMessage")[0].params
    check_reply(json.dumps(posted["blocks"]), lib)
    assert examples(deps, criteria, "slack:C1") == lib.added
    assert slack.downloads[0][1] == TOKEN  # url_private, with the bot token
    assert len(deps.s2.requests) == 1  # the 13 DOIs in one batch request
    # a member may not change the chat's examples: told so, only them, nothing downloaded
    other = slack.add_file("more.bib", lib.bib, user="UMEMBER", channel="C1")
    share(bolt, other, "UMEMBER")
    said = slack.wait_for("chat.postEphemeral")[0].params
    assert said["user"] == "UMEMBER" and "Not allowed" in said["text"]
    assert len(slack.downloads) == 1
    # a picture shared in the channel is none of the bot's business
    slack.add_file("plot.png", b"\x89PNG", user="UOWNER", channel="C1", mimetype="image/png")
    share(bolt, "F00000003", "UOWNER")
    slack.wait_for("files.info", 3)
    assert slack.count("chat.postMessage") == 1 and slack.count("chat.postEphemeral") == 1
    # in a DM: a download Slack refuses is one line; a file that is no .bib is answered too
    asyncio.run(handle("subscribe", Context("slack", "D9", "UOWNER", dm=True), deps))
    slack.fail_downloads = 500
    share(bolt, slack.add_file("refs.bib", lib.bib, user="UOWNER", channel="D9"), "UOWNER", "D9")
    share(bolt, slack.add_file("notes.txt", b"hi", user="UOWNER", channel="D9"), "UOWNER", "D9")
    said = [c.params["text"] for c in slack.wait_for("chat.postMessage", 3)[1:]]
    assert sorted(said) == ["Could not read the file", "Not a .bib file"], said
    blocks = json.dumps([c.params["blocks"] for c in slack.calls_to("chat.postMessage")])
    assert "could not download the file from Slack (HTTP 500)" in blocks
    assert examples(deps, criteria, "slack:D9") == set()


def test_a_bib_sent_on_telegram_adds_the_resolvable_entries_and_names_the_others(
    tg: FakeTelegram, deps: Deps, criteria: Criteria, library
) -> None:
    lib = library[0]
    tg.members[(GROUP, MEMBER)] = "member"
    updates = [tg.send_document(GROUP, "refs.bib", lib.bib, user_id=OWNER),
               tg.send_document(GROUP, "refs.bib", lib.bib, user_id=MEMBER),
               tg.send_document(GROUP, "photo.jpg", b"\xff\xd8", user_id=OWNER)]  # fmt: skip

    process_updates(tg, deps, *updates, token=TG_TOKEN)
    texts = [m["text"] for m in tg.sent(GROUP)]
    check_reply(texts[0], lib)
    assert "Not allowed" in texts[-1] and len(texts) == 2, texts
    assert examples(deps, criteria, f"telegram:{GROUP}") == lib.added
    assert tg.count("getFile") == 1


def test_entries_name_their_arxiv_paper_in_many_ways() -> None:
    cases = {
        "2106.09685": {"eprint": "arXiv:2106.09685v2"},
        "2106.09686": {"eprint": "2106.09686", "eprinttype": "arxiv"},
        "2106.09687": {"note": "Preprint at https://arxiv.org/pdf/2106.09687v1.pdf"},
        "2106.09688": {"journal": "CoRR", "doi": "10.48550/ARXIV.2106.09688"},
        "": {"eprint": "1234.5678", "archiveprefix": "bioRxiv"},
    }  # fmt: skip
    for want, fields in cases.items():
        assert entry_of("k", fields).arxiv == want, fields
    assert entry_of("k", {"eprint": "hep-th/9901001"}).old_arxiv == "hep-th/9901001"
    assert entry_of("k", {"doi": "doi:10.1000/X1"}).doi == "10.1000/X1"


async def _nothing() -> bytes:
    raise AssertionError("not downloaded")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("paper.pdf", b"%PDF-1.7", "paper.pdf is not a BibTeX file"),
        ("refs.bib", b"", "refs.bib is empty"),
        ("refs.bib", b"  \n\n", "refs.bib is empty"),
        ("refs.bib", b"\x00\x01\x02binary", "is not a text file"),
        ("refs.bib", b"just some notes, no entries", "holds no BibTeX entry I can read"),
        ("refs.bib", b"@article{a, title={never closed", "holds no BibTeX entry I can read"),
        ("refs.bib", b"@misc{a, title={T}}" + b" " * 1_000_001, "more than the 1,000,000"),
        ("refs.bib", _entry("book", publisher="X").encode(), "book: no arXiv id or DOI"),
        ("refs.bib", None, "could not download the file"),
    ],
)
def test_bad_files_get_one_line_and_add_nothing(
    deps: Deps, criteria: Criteria, name: str, data: bytes | None, says: str
) -> None:
    from digest import FetchError

    async def download() -> bytes:
        if data is None:
            raise FetchError("could not download the file from Slack (HTTP 500)")
        return data

    ctx = Context("slack", "D1", "UOWNER", dm=True)
    asyncio.run(handle("subscribe", ctx, deps))
    reply = asyncio.run(read_bib(name, None, download, ctx, deps))
    assert reply is not None and reply.error and says in reply.text(), reply.text()
    assert label_counts(deps.store, criteria)["example"] == 0


def test_too_large_refused_before_download_and_slow_resolvers_named(
    deps: Deps, criteria: Criteria, library
) -> None:
    ctx = Context("slack", "C1", "UOWNER")
    big = asyncio.run(read_bib("refs.bib", 5_000_000, _nothing, ctx, deps))
    assert big is not None and "5,000,000 bytes" in big.text()
    deps.s2.fail(429)  # type: ignore[attr-defined]

    async def download() -> bytes:
        return library[0].bib

    reply = asyncio.run(read_bib("refs.bib", None, download, ctx, deps))
    assert reply is not None and "14 wanted examples added" in reply.title, reply.text()
    assert "doi0: Semantic Scholar is busy (429)" in reply.text()
    assert len(examples(deps, criteria, "slack:C1")) == 14
