"""`digest.__all__` is the engine's public surface; keep it honest."""

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import digest


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
