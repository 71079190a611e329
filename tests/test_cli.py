"""The `paperdigest` command as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from digest.criteria import Criteria, default_criteria_path
from digest.evaluation import read_reference
from digest.papers import read_listing
from digest.scoring.embedding import ENCODED
from digest.store import Store
from tests.fakes.arxiv import FakeArxiv, closed_port, recorded_atom, recorded_rss

DATA = Path(__file__).parent / "data"
SAMPLE = Path(__file__).parent.parent / "digest" / "data" / "sample-2026-02-10.jsonl"
runner = CliRunner()


@pytest.fixture
def env(scored_db: Path, tmp_path: Path) -> dict[str, str]:
    """Settings for a CLI run: a copy of the scored sample store, output in tmp_path."""
    db = tmp_path / "cli.sqlite3"
    shutil.copy(scored_db, db)
    return {
        "PAPERDIGEST_DATABASE_PATH": str(db),
        "PAPERDIGEST_DIGEST_OUT_DIR": str(tmp_path / "out"),
    }


def invoke(args: list[str], env: dict[str, str]):
    return runner.invoke(app, args, env=env)


def test_every_command_is_documented_with_an_example() -> None:
    commands = [([c.name or c.callback.__name__], c.callback) for c in app.registered_commands]
    for group in app.registered_groups:
        commands.append(([group.name], group.typer_instance.registered_callback.callback))
        commands += [
            ([group.name, c.name], c.callback) for c in group.typer_instance.registered_commands
        ]
    assert {" ".join(words) for words, _ in commands} >= {
        "run", "score", "eval", "learn", "why", "criteria", "criteria set", "backfill",
    }  # fmt: skip
    for words, callback in commands:
        assert "Example:" in (callback.__doc__ or ""), words
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, words


def test_run_sample_writes_the_day(env: dict[str, str], tmp_path: Path) -> None:
    result = invoke(["run", "--sample"], env)
    assert result.exit_code == 0, result.output
    assert "692 papers scanned" in result.output
    assert "2602.08235" in result.output  # the followed author's paper leads the table
    out = tmp_path / "out"
    page = json.loads((out / "json" / "2026-02" / "2026-02-10.json").read_text())
    assert page["entries"][0]["paper"]["id"] == "2602.08235"
    md = (out / "md" / "2026-02" / "2026-02-10.md").read_text()
    assert "Total scanned papers: 692" in md and "Author match" in md
    assert (out / "html" / "2026-02" / "index.html").exists()


def test_why_explains_a_paper(env: dict[str, str]) -> None:
    result = invoke(["why", "2602.08007"], env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "relevance" in out and "novelty" in out
    assert "matched criterion: " in out and "rank " in out
    assert "cutoffs: relevance >= 8, novelty >= 7" in out
    assert "made the digest" in out


def test_why_unknown_paper(env: dict[str, str]) -> None:
    result = invoke(["why", "2602.99999"], env)
    assert result.exit_code == 1
    assert "2602.99999 is not in the store" in result.output
    assert "Traceback" not in result.output


def test_why_not_an_id(env: dict[str, str]) -> None:
    result = invoke(["why", "banana"], env)
    assert result.exit_code == 1 and "not an arXiv id" in result.output


def test_score_prints_one_line_per_paper(env: dict[str, str], tmp_path: Path) -> None:
    listing = tmp_path / "three.jsonl"
    listing.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:3]))
    result = invoke(["score", "--input", str(listing), "--scorer", "local"], env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert result.stderr.strip() == "scored 3 of 3 papers with local; no tokens"
    for line in lines:
        assert set(line) == {"id", "relevance", "novelty", "comment", "matched"}
        assert 1 <= line["relevance"] <= 10 and 1 <= line["novelty"] <= 10


def test_score_unknown_scorer(env: dict[str, str]) -> None:
    result = invoke(["score", "--input", str(SAMPLE), "--scorer", "oracle"], env)
    assert result.exit_code == 1 and "unknown scorer 'oracle'" in result.output


def test_score_bad_input_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "2602.00001", "title": "x", "abstract": "y"}\nnot json\n')
    result = invoke(["score", "--input", str(bad)], env)
    assert result.exit_code == 1 and "bad.jsonl:2" in result.output


def test_eval_on_a_tiny_listing(env: dict[str, str], tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines(keepends=True)
    listing = tmp_path / "tiny.jsonl"
    listing.write_text("".join(lines[:8]))
    ids = [json.loads(line)["id"] for line in lines[:2]]
    reference = tmp_path / "ref.txt"
    reference.write_text(
        f"ArXiv ID: {ids[0]}\n\nRelevance: 9 Novelty: 8\n\n"
        f"ArXiv ID: {ids[1]}\n\nRelevance: 7 Novelty: 7\n\n"
        "ArXiv ID: 2602.99999\n\nRelevance: 8 Novelty: 8\n"
    )
    result = invoke(["eval", "--listing", str(listing), "--reference", str(reference)], env)
    assert result.exit_code == 0, result.output
    assert "papers in listing: 8" in result.output
    assert "found in listing: 2 of 3" in result.output
    assert "R-precision" in result.output and "recall keeping top 40%" in result.output
    assert "Spearman" in result.output


def test_eval_over_folders_of_days_with_one_labels_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Folders of listings and one labels file (the shape of data/arxiv/selected.json): a row
    per day in date order across the folders, and the mean; a day without labels is named."""
    lines = SAMPLE.read_text().splitlines(keepends=True)
    (tmp_path / "late").mkdir()
    (tmp_path / "early").mkdir()
    days = {
        "2026-02-11": ("late", lines[0:60]),
        "2026-02-09": ("late", lines[60:120]),
        "2026-02-10": ("early", lines[120:180]),
        "2026-02-12": ("early", lines[180:200]),
    }
    for day, (folder, part) in days.items():
        (tmp_path / folder / f"{day}.jsonl").write_text("".join(part))
    wanted = {r.id for r in read_reference(DATA / "digest-2026-02-10.txt")}
    labels = {
        day: {json.loads(line)["id"]: {"relevance": 9, "novelty": None} for line in part
              if json.loads(line)["id"] in wanted}
        for day, (_, part) in days.items() if day != "2026-02-12"
    }  # fmt: skip
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    args = ["eval", "--listing", str(tmp_path / "late"), "--listing", str(tmp_path / "early"),
            "--labels", str(tmp_path / "labels.json")]  # fmt: skip
    result = invoke(args, {**env, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "│" in line]
    assert [r.split("│")[1].strip() for r in rows] == [
        "2026-02-09",
        "2026-02-10",
        "2026-02-11",
        "mean of 3 days",
    ]
    assert "1 listing(s) have no labels, left out: 2026-02-12.jsonl" in " ".join(
        result.output.split()
    )
    mean = [float(c) for c in rows[-1].split("│")[4:8]]
    each = [[float(c) for c in r.split("│")[4:8]] for r in rows[:3]]
    assert mean == pytest.approx([sum(col) / 3 for col in zip(*each, strict=True)], abs=2e-3)
    both = invoke([*args, "--reference", str(DATA / "digest-2026-02-10.txt")], env)
    assert both.exit_code == 1 and "either --reference" in both.output
    (tmp_path / "other.json").write_text(json.dumps({"2025-01-01": {}}))
    none = invoke([*args[:-1], str(tmp_path / "other.json")], env)
    assert none.exit_code == 1 and "no picks for the days of these listings" in none.output


def test_bad_config_key_names_key_and_file(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text("[digest]\ntopk = 5\n")
    result = invoke(["--config", str(config), "run", "--sample"], {**env, "COLUMNS": "300"})
    assert result.exit_code == 1  # (wide enough for the whole path of a test's directory)
    assert "digest.topk" in result.output and "mine.toml" in result.output


def test_run_offline_names_the_feed_and_suggests_sample(env: dict[str, str]) -> None:
    env["PAPERDIGEST_ARXIV_RSS_URL"] = f"http://127.0.0.1:{closed_port()}/rss/"
    result = invoke(["run"], env)
    assert result.exit_code == 2
    assert "cs.LG" in result.output and "--sample" in result.output


def test_run_no_announcement_exits_zero(env: dict[str, str], tmp_path: Path) -> None:
    def empty(raw: bytes) -> bytes:
        return raw.partition(b"<item>")[0] + b"</channel></rss>"

    with FakeArxiv(rss={c: empty(recorded_rss(c)) for c in ("cs.LG", "cs.AI")}) as fake:
        env["PAPERDIGEST_ARXIV_RSS_URL"] = fake.rss_base_url
        result = invoke(["run"], env)
    assert result.exit_code == 0, result.output
    assert "no announcement" in result.output
    assert not (tmp_path / "out").exists()


def test_run_malformed_feed_names_it(env: dict[str, str]) -> None:
    with FakeArxiv() as fake:
        fake.garbage("cs.AI")
        env["PAPERDIGEST_ARXIV_RSS_URL"] = fake.rss_base_url
        result = invoke(["run"], env)
    assert result.exit_code == 2 and "cs.AI" in result.output


def test_run_real_feeds_from_loopback(env: dict[str, str], tmp_path: Path) -> None:
    with FakeArxiv() as fake:
        env["PAPERDIGEST_ARXIV_RSS_URL"] = fake.rss_base_url
        result = invoke(["run"], env)
    assert result.exit_code == 0, result.output
    assert "6 papers scanned" in result.output
    assert (tmp_path / "out" / "json" / "2026-04" / "2026-04-27.json").exists()


def test_a_criteria_change_in_chat_survives_any_run(env: dict[str, str], tmp_path: Path) -> None:
    """The follow is version 2 of the terminal subscription; `run` reads it and writes none."""
    assert invoke(["chat", "follow Ada Lovelace"], env).exit_code == 0
    for _ in range(2):
        assert invoke(["run", "--sample"], env).exit_code == 0
    shown = invoke(["criteria"], env).output
    assert "Ada Lovelace" in shown and "version 2," in shown
    edited = tmp_path / "mine.md"
    edited.write_text(shown.split("version 2,")[0].replace("Ada Lovelace", "Grace Hopper"))
    done = invoke(["criteria", "set", str(edited)], env)
    assert done.exit_code == 0 and "stored as version 3" in " ".join(done.output.split())
    assert "Grace Hopper" in invoke(["criteria"], env).output
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe binary")
    refused = invoke(["criteria", "set", str(bad)], env)
    assert refused.exit_code == 1 and "version 4" not in invoke(["criteria"], env).output


def test_criteria_set_says_which_labels_still_teach_the_scorer(
    env: dict[str, str], tmp_path: Path
) -> None:
    reference = DATA / "digest-2026-02-10.txt"
    assert (
        invoke(["learn", "--reference", str(reference), "--listing", str(SAMPLE)], env).exit_code
        == 0
    )
    shown = invoke(["criteria"], env).output.split("\nversion ")[0]
    fewer = tmp_path / "fewer.md"
    fewer.write_text(shown.split("## Representation Learning")[0])
    said = " ".join(invoke(["criteria", "set", str(fewer)], env).output.split())
    assert "kept " in said and " of 692 labelled papers" in said
    other = tmp_path / "other.md"
    other.write_text("## Protein Folding\n- Relevant: protein structure prediction\n")
    said = " ".join(invoke(["criteria", "set", str(other)], env).output.split())
    assert "no topic is unchanged" in said and "starts from zero-shot" in said


def test_criteria_shows_the_default(env: dict[str, str]) -> None:
    result = invoke(["criteria"], env)
    assert result.exit_code == 0
    assert "## Model Architecture" in result.output and "hash: " in result.output


def test_run_stale_feed_exits_3_and_says_which(env: dict[str, str], tmp_path: Path) -> None:
    stale = recorded_rss("cs.AI").replace(b"27 Apr 2026", b"24 Apr 2026")
    with FakeArxiv(rss={"cs.LG": recorded_rss("cs.LG"), "cs.AI": stale}) as fake:
        env["PAPERDIGEST_ARXIV_RSS_URL"] = fake.rss_base_url
        result = invoke(["run"], env)
    assert result.exit_code == 3
    assert "cs.AI is stale" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_dry_run_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    def stored(db: str) -> tuple[list, list, int]:
        """The terminal subscription's digest days and criteria versions, and the scores."""
        store = Store(f"sqlite:///{db}")
        ids = [p.id for p in read_listing(SAMPLE)]
        key = Criteria.load(default_criteria_path()).scoring_hash
        scored = len(store.scores(ids, key, "local"))
        found = store.digest_days("default"), store.criteria_versions("default"), scored
        store.close()
        return found

    before = stored(env["PAPERDIGEST_DATABASE_PATH"])
    result = invoke(["run", "--sample", "--dry-run"], env)
    assert result.exit_code == 0
    assert "2026-02-10: built: sample day 2026-02-10" in result.output
    assert "would score 0 papers (690 cached)" in result.output  # 2 by followed authors
    assert stored(env["PAPERDIGEST_DATABASE_PATH"]) == before
    env["PAPERDIGEST_DATABASE_PATH"] = str(tmp_path / "empty.sqlite3")
    result = invoke(["run", "--sample", "--dry-run"], env)
    flat = " ".join(result.output.split())
    assert "would score 690 papers (0 cached): local: 690 papers, no tokens, $0.00" in flat
    assert "TL;DRs: lines from the abstract (no LLM), no tokens, $0.00" in flat
    assert stored(env["PAPERDIGEST_DATABASE_PATH"]) == ([], [], 0)  # not even criteria v1
    assert not (tmp_path / "out").exists()


def test_backfill_writes_a_listing(env: dict[str, str], tmp_path: Path) -> None:
    with FakeArxiv(atom=recorded_atom("id-list")) as fake:
        env |= {"PAPERDIGEST_ARXIV_EXPORT_URL": fake.api_url_format}
        env |= {"PAPERDIGEST_ARXIV_EXPORT_DELAY": "0"}
        out = tmp_path / "range.jsonl"
        args = ["backfill", "--from", "2026-04-01", "--to", "2026-04-02", "--output", str(out)]
        result = invoke(args, env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["1707.08567"] and lines[0]["authors"]
    assert "submittedDate" in fake.requests[0]


def test_backfill_bad_day(env: dict[str, str], tmp_path: Path) -> None:
    args = ["backfill", "--from", "April 1", "--to", "2026-04-02", "--output", "x.jsonl"]
    result = invoke(args, env)
    assert result.exit_code == 1 and "--from expects a day as YYYY-MM-DD" in result.output


def test_learn_from_a_reference_changes_the_scorer(env: dict[str, str], tmp_path: Path) -> None:
    listing = tmp_path / "three-hundred.jsonl"
    listing.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:300]))
    args = ["learn", "--reference", str(DATA / "digest-2026-02-10.txt"), "--listing", str(listing)]
    result = invoke(args, env)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "learned from 300 labelled papers" in flat and "local+learned-" in flat
    assert "on 64 held-back labels" in flat  # one in five, never trained on
    scored = invoke(["score", "--input", str(listing)], env)
    assert scored.exit_code == 0 and "learned from labels" in scored.output


def test_learn_with_too_few_labels_says_so(env: dict[str, str], tmp_path: Path) -> None:
    listing = tmp_path / "five.jsonl"
    listing.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:5]))
    args = ["learn", "--reference", str(DATA / "digest-2026-02-10.txt"), "--listing", str(listing)]
    result = invoke(args, env)  # a clear no-op: not an error, so a daily job never fails on it
    assert result.exit_code == 0 and "not enough labels to learn" in " ".join(result.output.split())
    assert invoke(["learn", "--listing", str(listing)], env).exit_code == 1  # needs --reference


def test_the_readme_lists_every_command() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"`paperdigest {name}" in readme, name


def _score_with_stderr_on(stderr_tty: bool, env: dict[str, str], listing: Path) -> tuple[str, str]:
    """`paperdigest score` in its own process, stdout piped, stderr a terminal or a pipe."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    env = {**os.environ, **env, "TERM": "xterm", "COLUMNS": "100"}
    command = [sys.executable, "-m", "bot.cli", "score", "--input", str(listing)]
    if not stderr_tty:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    screen: list[bytes] = []

    def read() -> None:  # drain the terminal while the process writes to it
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    out = proc.communicate(timeout=120)[0]
    reader.join(10)
    os.close(leader)
    assert proc.returncode == 0, screen
    return out, b"".join(screen).decode(errors="replace")


def test_long_work_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    listing = tmp_path / "forty.jsonl"
    revised = []  # new versions of the sample's papers: the bundled vectors do not hold them
    for line in SAMPLE.read_text().splitlines()[:40]:
        paper = json.loads(line)
        revised.append(json.dumps({**paper, "abstract": paper["abstract"] + " Revised."}) + "\n")
    listing.write_text("".join(revised))
    env = {"PAPERDIGEST_DATABASE_PATH": str(tmp_path / "progress.sqlite3")}
    out, screen = _score_with_stderr_on(True, env, listing)
    assert len(out.splitlines()) == 40  # the JSON lines, untouched by the bar
    assert "embedding" in screen and "40/40" in screen
    out, err = _score_with_stderr_on(False, {**env, "PAPERDIGEST_DATABASE_PATH": str(
        tmp_path / "piped.sqlite3")}, listing)  # fmt: skip
    assert len(out.splitlines()) == 40 and err == "scored 40 of 40 papers with local; no tokens\n"


def test_eval_learns_from_the_first_days_and_measures_the_rest(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Two days cut from the sample, given out of order: learn from the 9th, measure the 10th."""
    lines = SAMPLE.read_text().splitlines(keepends=True)
    first, second = tmp_path / "2026-02-09.jsonl", tmp_path / "2026-02-10.jsonl"
    first.write_text("".join(lines[0::2]))
    second.write_text("".join(lines[1::2]))
    ref = str(DATA / "digest-2026-02-10.txt")
    args = ["eval", "--listing", str(second), "--reference", ref, "--listing", str(first),
            "--reference", ref, "--learn-days", "1"]  # fmt: skip
    encoded = ENCODED.texts
    result = invoke(args, {**env, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "learned from 346 labelled papers" in " ".join(result.output.split())
    # the store had the papers' embeddings: only the criteria's own texts were embedded
    assert ENCODED.texts - encoded < 100
    row = next(line for line in result.output.splitlines() if "2026-02-10" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == ["2026-02-10", "346", cells[2]] and int(cells[2]) > 30
    r_precision, recall_40, share = float(cells[3]), float(cells[5]), float(cells[6])
    assert r_precision > 0.4 and recall_40 > 0.85 and 0 < share < 1
    too_many = invoke([*args[:-1], "2"], env)
    assert too_many.exit_code == 1 and "give more listings" in too_many.output
