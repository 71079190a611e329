"""`digest.__all__` is the engine's public surface; keep it honest."""

import digest


def test_all_names_exist_and_are_sorted() -> None:
    assert sorted(digest.__all__) == digest.__all__
    for name in digest.__all__:
        assert hasattr(digest, name), name


def test_public_names_are_all_listed() -> None:
    public = {
        name
        for name, value in vars(digest).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("digest.")
    }
    assert public == set(digest.__all__)


def test_engine_never_imports_the_front_ends() -> None:
    from pathlib import Path

    root = Path(digest.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "import bot" not in text and "from bot" not in text, source
