"""`digest.__all__` is the engine's public surface, and each package of `bot/` has one too: keep
them honest."""

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import bot
import digest

BOT = Path(bot.__file__).parent
BOT_PACKAGES = sorted(
    ".".join(("bot", *init.parent.relative_to(BOT).parts)) for init in BOT.rglob("__init__.py")
)


def test_all_names_exist() -> None:  # ruff (RUF022) keeps them sorted
    for name in digest.__all__:
        assert hasattr(digest, name), name  # a lazy name is imported, then bound


def test_public_names_are_all_listed() -> None:
    for name in digest.__all__:
        getattr(digest, name)
    public = {
        name
        for name, value in vars(digest).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(digest.__all__)


def test_import_digest_is_light() -> None:
    """The heavy libraries wait for the names that need them (`run --sample` starts fast)."""
    code = (
        "import sys, digest; heavy = ('openai', 'slack_sdk', 'slack_bolt', 'telegram', "
        "'onnxruntime', 'alembic', 'arxiv', 'tokenizers', 'aiohttp'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    root = Path(digest.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_engine_never_imports_the_front_ends() -> None:
    root = Path(digest.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "import bot" not in text and "from bot" not in text, source


def test_bots_packages_are_found() -> None:
    assert {"bot", "bot.chat", "bot.platforms", "bot.service", "bot.cli"} <= set(BOT_PACKAGES)


@pytest.mark.parametrize("name", BOT_PACKAGES)
def test_each_package_of_the_bot_names_what_it_offers(name: str) -> None:
    """A docstring, and `__all__` listing exactly its public names (a lazy one is imported,
    then bound); its modules are not names it offers."""
    package = importlib.import_module(name)
    assert package.__doc__, name
    for member in package.__all__:
        assert hasattr(package, member), f"{name}.{member}"
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(package.__all__), name
