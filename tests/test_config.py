"""Settings a user sees: bundled defaults, a user file on top, PAPERDIGEST_* variables on top."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from digest.config import (
    DEFAULTS,
    SECRET_VARIABLES,
    Settings,
    config_dir,
    load_secrets,
    load_settings,
)
from digest.day import Cutoffs
from digest.errors import ConfigError
from digest.store import Store
from digest.subscriptions import Subscription


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path, monkeypatch):
    # load_settings falls back to ./paperdigest.toml: run from an empty folder.
    monkeypatch.chdir(tmp_path)


def _user_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_come_from_default_toml():
    settings = load_settings(env={})
    assert settings.arxiv.categories == ("cs.LG", "cs.AI")
    assert settings.digest.relevance_cutoff == 8
    assert settings.digest.novelty_cutoff == 7
    assert settings.digest.top_k == 0


def test_default_toml_shows_the_defaults_of_the_settings_model():
    """The models are the one source of each default; default.toml documents the same values."""
    with (config_dir() / "default.toml").open("rb") as fh:
        documented = tomllib.load(fh)
    assert documented == DEFAULTS.model_dump(mode="json")


def test_what_is_built_without_settings_has_the_settings_defaults():
    sub = Subscription("slack:C1", "slack", "C1")
    assert Cutoffs() == Cutoffs(DEFAULTS.digest.relevance_cutoff, DEFAULTS.digest.novelty_cutoff)
    assert sub.cutoffs == Cutoffs() == Cutoffs(8, 7)
    assert (sub.categories, sub.top_k, sub.schedule, sub.timezone) == (
        DEFAULTS.arxiv.categories,
        DEFAULTS.bot.top_k,
        DEFAULTS.bot.schedule,
        DEFAULTS.bot.timezone,
    )


def test_user_file_overrides_a_key_and_keeps_the_rest(tmp_path):
    path = _user_file(tmp_path, "[digest]\ntop_k = 12\n")
    settings = load_settings(path, env={})
    assert settings.digest.top_k == 12
    assert settings.digest.relevance_cutoff == 8


def test_config_env_var_names_the_user_file(tmp_path):
    path = _user_file(tmp_path, "[digest]\nnovelty_cutoff = 5\n")
    assert load_settings(env={"PAPERDIGEST_CONFIG": str(path)}).digest.novelty_cutoff == 5


def test_env_var_overrides_user_file_and_defaults(tmp_path):
    path = _user_file(tmp_path, "[digest]\ntop_k = 12\n")
    settings = load_settings(path, env={"PAPERDIGEST_DIGEST_TOP_K": "5"})
    assert settings.digest.top_k == 5


def test_list_env_var_is_split_on_commas():
    settings = load_settings(env={"PAPERDIGEST_ARXIV_CATEGORIES": "cs.LG, cs.CL"})
    assert settings.arxiv.categories == ("cs.LG", "cs.CL")


def test_unknown_key_names_key_and_file(tmp_path):
    path = _user_file(tmp_path, "[digest]\ntopk = 5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert "digest.topk" in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_section_names_section_and_file(tmp_path):
    path = _user_file(tmp_path, "[digests]\ntop_k = 5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert "digests" in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("relevance_cutoff = 11", "digest.relevance_cutoff"),
        ('top_k = "x"', "digest.top_k"),
    ],
)
def test_bad_value_names_key_and_file(tmp_path, line, key):
    path = _user_file(tmp_path, f"[digest]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert key in str(err.value)
    assert str(path) in str(err.value)


def test_bad_env_var_name_names_the_variable():
    with pytest.raises(ConfigError, match="PAPERDIGEST_NOPE_TOP_K"):
        load_settings(env={"PAPERDIGEST_NOPE_TOP_K": "5"})


def test_unknown_env_key_names_the_variable():
    with pytest.raises(ConfigError, match="PAPERDIGEST_DIGEST_TOPK"):
        load_settings(env={"PAPERDIGEST_DIGEST_TOPK": "5"})


def test_bad_env_value_names_the_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(env={"PAPERDIGEST_DIGEST_TOP_K": "five"})
    assert "PAPERDIGEST_DIGEST_TOP_K" in str(err.value)
    assert "digest.top_k" in str(err.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = _user_file(tmp_path, "[digest\ntop_k = 5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert str(path) in str(err.value)
    assert "TOML" in str(err.value)


def test_missing_user_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="does not exist") as err:
        load_settings(path, env={})
    assert str(path) in str(err.value)


def test_default_toml_documents_every_setting():
    """Every key of Settings is in default.toml, under a comment that explains it.

    A comment directly above the key, or (for a group such as the two cutoffs) the comment
    above the group naming the key.
    """
    lines = (config_dir() / "default.toml").read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"^(\w+)\s*=")
    section = None
    found: dict[tuple[str, str], int] = {}
    for i, line in enumerate(lines):
        if header := re.match(r"^\[(\w+)\]$", line):
            section = header.group(1)
        elif table := re.match(r"^\[(\w+)\.(\w+)\]$", line):  # a setting that is a table
            found[(table.group(1), table.group(2))] = i
            section = None
        elif (match := assignment.match(line)) and section:
            found[(section, match.group(1))] = i

    for name, field in Settings.model_fields.items():
        for key in field.annotation.model_fields:
            assert (name, key) in found, f"{name}.{key} is missing from default.toml"
            i = found[(name, key)] - 1
            while i >= 0 and assignment.match(lines[i]):
                i -= 1  # skip the other keys of a group to reach its comment
            assert lines[i].startswith("#"), f"{name}.{key} has no comment above it"
            if i != found[(name, key)] - 1:
                comment = []
                while i >= 0 and lines[i].startswith("#"):
                    comment.append(lines[i])
                    i -= 1
                assert key in " ".join(comment), f"the comment above {name}.{key} omits it"


def test_secrets_come_from_the_environment_and_never_show() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-123456", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    secrets = load_secrets(env)
    assert secrets.slack_bot_token == "xoxb-123456" and secrets.telegram_bot_token == ""
    assert "xoxb-123456" not in repr(secrets) and "127.0.0.1:9" in repr(secrets)
    assert load_settings(env={"PAPERDIGEST_STATUS_TOKEN": "s3cret!"}) == load_settings(env={})
    assert load_secrets({"PAPERDIGEST_STATUS_TOKEN": "s3cret!"}).status_token == "s3cret!"


def test_only_the_settings_module_names_the_secret_variables() -> None:
    """A secret's variable is read by `load_secrets` alone (messages may name it)."""
    import ast

    names = set(SECRET_VARIABLES.values())
    root = Path(__file__).resolve().parent.parent
    readers = set()
    for path in [*root.glob("digest/**/*.py"), *root.glob("bot/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                readers.add(path.relative_to(root).as_posix())
    assert readers == {"digest/config.py"}


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("busy_timeout = 0", "database.busy_timeout"),
        ("connect_timeout = -1", "database.connect_timeout"),
    ],
)
def test_store_timeouts_must_be_positive(tmp_path, line, key):
    path = _user_file(tmp_path, f"[database]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert key in str(err.value) and str(path) in str(err.value)


def test_store_timeouts_reach_the_store(tmp_path):
    """`database.busy_timeout` is how long a SQLite write waits for another's lock."""
    env = {"PAPERDIGEST_DATABASE_PATH": str(tmp_path / "s.sqlite3"),
           "PAPERDIGEST_DATABASE_BUSY_TIMEOUT": "2.5"}  # fmt: skip
    store = Store.open(load_settings(env=env).database)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    store.close()
