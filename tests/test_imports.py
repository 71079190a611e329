"""The import graph of `digest/` and `bot/`: no cycle, the engine never imports the bot, and the
packages of `bot/` import only those below them, by their public names.

Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:`, so a
cycle cannot hide behind a function-level import. `from a import b` is an edge to `a.b`
when that is a module, else to `a`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("digest", "bot")


def _modules() -> dict[str, Path]:
    """Every module of our packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _statements(source: str, package: str) -> list[tuple[int, str, str | None]]:
    """Every import in `source`, anywhere: (line, module, None) for `import module`, and
    (line, module, name) for `from module import name`, relative modules made absolute."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, base, alias.name) for alias in node.names]
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for _, base, member in _statements(path.read_text(encoding="utf-8"), package):
        sub = f"{base}.{member}"
        out.add(sub if member is not None and sub in modules else base)
    return {m for m in out if m in modules and m != name}


def _parse(source: str) -> ast.Module:
    """ast.parse; again after CPython 3.11's spurious "AST constructor recursion depth
    mismatch" SystemError (python/cpython#106905: AST state shared with another thread)."""
    for attempt in range(3):
        try:
            return ast.parse(source)
        except SystemError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (strongly connected
    components of more than one module; Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                out.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "digest.day" in graph["digest.subscriptions"]  # module level
    assert "bot.platforms.slack" in graph["bot.platforms"]  # inside a function
    assert "digest.criteria" in graph["digest.scoring"]  # under TYPE_CHECKING
    assert "digest.store" in graph["digest.pipeline"]  # `from digest.store import Store`
    assert "digest.scoring.local" in graph["digest.scoring.learning"]  # `from a import b`: a module
    assert "bot.chat.agent" in graph["bot.chat.ask"] and "bot.chat" not in graph["bot.chat.ask"]


def test_tangles_finds_cycles_and_only_cycles() -> None:
    assert tangles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert tangles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_engine_has_no_import_cycle() -> None:
    graph = import_graph()
    engine = {m: {i for i in graph[m] if i in graph} for m in graph if m.split(".")[0] == "digest"}
    assert tangles(engine) == []


def test_no_import_cycle_at_all() -> None:
    """The front ends call `bot.chat.answer`, above both the plain-words layer and the core."""
    assert tangles(import_graph()) == []


def test_the_engine_imports_nothing_from_the_bot() -> None:
    graph = import_graph()
    for name, imported in graph.items():
        if name.split(".")[0] == "digest":
            assert not {m for m in imported if m.split(".")[0] == "bot"}, name


def imports_from(package: str, name: str, source: str) -> list[tuple[int, str]]:
    """What module `name` imports from `package` or a module inside it, anywhere in `source`:
    (line, `module`) for `import module`, (line, `module:name`) for `from module import name`.
    `from bot import chat` imports the module `bot.chat`: it counts as `import bot.chat`."""
    found = []
    for line, base, member in _statements(source, name.rpartition(".")[0]):
        if member is not None and f"{base}.{member}" == package:
            base, member = package, None
        if base == package or base.startswith(f"{package}."):
            found.append((line, base if member is None else f"{base}:{member}"))
    return sorted(found)


def engine_imports(name: str, source: str) -> list[tuple[int, str]]:
    """What module `name` imports from the engine, anywhere in `source` (see imports_from)."""
    return imports_from("digest", name, source)


def off_surface(
    imports: list[tuple[int, str]], public: list[str], package: str = "digest"
) -> list[str]:
    """The imports that are not `from package import X` with X public."""
    return [
        f"line {line}: {what}"
        for line, what in imports
        if what.partition(":")[0] != package or what.partition(":")[2] not in public
    ]


def test_the_public_surface_check_sees_every_kind_of_import() -> None:
    source = (
        "import digest.store\n"
        "from digest import Store, _secret\n"
        "from digest.pipeline import rank_day\n"
        "def f():\n"
        "    from digest.scoring import local\n"
        "    from bot.service.logs import setup\n"
        "if TYPE_CHECKING:\n"
        "    from digest import *\n"
    )
    imports = engine_imports("bot.example", source)
    assert off_surface(imports, ["Store"]) == [
        "line 1: digest.store",
        "line 2: digest:_secret",
        "line 3: digest.pipeline:rank_day",
        "line 5: digest.scoring:local",
        "line 8: digest:*",
    ]


def test_the_bot_imports_only_the_engines_public_names() -> None:
    """`from digest import X` with X in `digest.__all__`: never a submodule, never a name the
    engine does not offer, so that the engine may change its insides without the bot."""
    import digest

    wrong = []
    checked = 0
    for path in sorted((ROOT / "bot").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        imports = engine_imports(name, path.read_text(encoding="utf-8"))
        checked += len(imports)
        wrong += [f"{path.relative_to(ROOT)} {w}" for w in off_surface(imports, digest.__all__)]
    assert checked > 50  # the bot does use the engine: the walk saw its imports
    assert wrong == []


# The packages of bot/, and those each may import: the conversation is below the platforms, the
# platforms below the service, and the command line uses them all. Nothing imports the CLI.
LAYERS = {
    "bot.chat": set(),
    "bot.platforms": {"bot.chat"},
    "bot.service": {"bot.chat", "bot.platforms"},
    "bot.cli": {"bot.chat", "bot.platforms", "bot.service"},
}


def layer(module: str) -> str | None:
    """The package of bot/ that a module is, or is in: `bot.chat.commands.parser` -> `bot.chat`."""
    top = ".".join(module.split(".")[:2])
    return top if top in LAYERS else None


def layer_breaks(name: str, source: str) -> list[str]:
    """The imports in `source`, module `name` of bot/, of a package of bot/ that `name`'s package
    may not import (see LAYERS): `line n: module` or `line n: module:name`."""
    own = layer(name)
    assert own is not None, f"{name} is in no package of bot/"
    return [
        f"line {line}: {what}"
        for other in sorted(set(LAYERS) - LAYERS[own] - {own})
        for line, what in imports_from(other, name, source)
    ]


def _bot_modules() -> list[tuple[str, str]]:
    """Each module inside bot's packages: (dotted name, source)."""
    return [
        (name, path.read_text(encoding="utf-8"))
        for name, path in _modules().items()
        if layer(name) is not None
    ]


def test_the_layer_check_sees_every_kind_of_import() -> None:
    source = (
        "from bot.chat import Reply\n"
        "import bot.platforms.slack\n"
        "from bot import service\n"
        "def f():\n"
        "    from bot.service.outbox import deliver\n"
        "if TYPE_CHECKING:\n"
        "    from bot.cli import app\n"
        "from digest import Store\n"
    )
    assert layer_breaks("bot.chat.example", source) == [
        "line 7: bot.cli:app",
        "line 2: bot.platforms.slack",
        "line 3: bot.service",
        "line 5: bot.service.outbox:deliver",
    ]
    assert layer_breaks("bot.platforms.slack", source) == [
        "line 7: bot.cli:app",
        "line 3: bot.service",
        "line 5: bot.service.outbox:deliver",
    ]
    assert layer_breaks("bot.service.serve", source) == ["line 7: bot.cli:app"]
    assert layer_breaks("bot.cli.day", source) == []
    assert layer_breaks("bot.chat.ask", "from bot.chat.commands import handle\n") == []


def test_the_chat_imports_neither_the_platforms_nor_the_service() -> None:
    """And the platforms do not import the service, and nothing imports the command line."""
    wrong = []
    for name, source in _bot_modules():
        wrong += [f"{name} {w}" for w in layer_breaks(name, source)]
    assert wrong == []
    graph = import_graph()
    assert "bot.chat.answer" in graph["bot.platforms.slack"]  # the walk sees the imports
    assert {layer(m) for m in graph["bot.cli.service"]} >= {"bot.platforms", "bot.service"}


def test_bots_packages_use_each_other_only_by_their_public_names() -> None:
    """`from bot.chat import X` with X in `bot.chat.__all__` (and so for the platforms and the
    service), as the bot uses the engine: a package may change its insides alone."""
    import importlib

    wrong = []
    checked = 0
    for name, source in _bot_modules():
        for other in sorted(set(LAYERS) - {layer(name)}):
            public = importlib.import_module(other).__all__
            imports = imports_from(other, name, source)
            checked += len(imports)
            wrong += [f"{name} {w}" for w in off_surface(imports, public, other)]
    assert checked > 20
    assert wrong == []


def test_the_public_names_check_of_bots_packages_sees_a_module_import() -> None:
    source = "from bot.chat import Reply, _secret\nfrom bot.chat.replies import card\n"
    imports = imports_from("bot.chat", "bot.service.outbox", source)
    assert off_surface(imports, ["Reply"], "bot.chat") == [
        "line 1: bot.chat:_secret",
        "line 2: bot.chat.replies:card",
    ]
