"""The Dockerfile, proved without a Docker engine: read, then its steps run directly.

`test_dockerfile_shape` and `test_healthcheck_command` read the Dockerfile: the builder copies
exactly what the build needs, the runtime stage holds only the venv and runs as a non-root user
in the /data volume, the HEALTHCHECK asks /healthz on the port serve listens on (its snippet is
run against a stub server), the CMD is `paperdigest serve`, and no secret is baked in.

`test_image_steps_install_serve_healthcheck_and_sample` runs the steps. The builder stage's
`COPY` lines are copied from the repository into a fresh directory, the builder's `pip install`
line is run there into a fresh venv (every copied file of digest/, bot/ and config/ must be in
the installed package), the source tree is deleted, and the runtime stage's `CMD` (`paperdigest
serve`) and `HEALTHCHECK` are run against that venv from an empty data directory, as the
container would, then `docker stop` (SIGTERM).

By default that install is offline and takes seconds: the Dockerfile's pip line gets
`--no-index --no-deps --no-build-isolation` added, with pip's configuration files ignored and
any HTTP(S) request sent to a closed local port. The fresh venv gets pip, and after the install
exactly the distributions that the installed package's Requires-Dist names (followed
transitively, extras and markers included, each version checked against its requirement), as
links into the environment running the tests; the build backend that pyproject.toml's
[build-system] names is on PYTHONPATH for the install step only. So the real build, the
wheel's contents and the declared dependencies are all checked (an import of an undeclared
package fails), but not that pip can resolve the dependencies from the package index. It needs
the build backend (hatchling) installed where the tests run; when it is not, this test is
skipped and says so.

PAPERDIGEST_TEST_DOCKER_STEPS=1 runs the builder's pip line verbatim instead: a venv with its own
pip, an isolated build and every dependency from the package index, as `docker build` does, and
then also `paperdigest run --sample` from the installed package (scoring the sample day: 15 to
40 s on its own). Slow (one to several minutes) and it needs the network; run it when changing
the Dockerfile, or pyproject.toml's dependencies or build settings.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from digest.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
HEALTH_URL = "http://127.0.0.1:8080/healthz"
# Read at import: the autouse clean_env fixture removes PAPERDIGEST_* before each test runs.
FROM_INDEX = os.environ.get("PAPERDIGEST_TEST_DOCKER_STEPS") == "1"
OFFLINE_PIP_FLAGS = ("--no-index", "--no-deps", "--no-build-isolation")
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, so any download fails at once


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuations joined, comments gone."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            word, _, args = whole.partition(" ")
            out.append((word.upper(), args.strip()))
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions grouped by build stage (each starts with FROM)."""
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument, e.g. of CMD."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_command(runtime: list[tuple[str, str]]) -> list[str]:
    (health,) = [args for word, args in runtime if word == "HEALTHCHECK"]
    return exec_form(health[health.index("CMD") + len("CMD") :].strip())


def stage_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """The stage's ENV lines (KEY=value form) as a mapping, values unexpanded."""
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            for pair in shlex.split(args):
                key, sep, value = pair.partition("=")
                assert sep, f"ENV {args}: use the KEY=value form"
                env[key] = value
    return env


def container_env(stage: list[tuple[str, str]], venv: Path, data: Path) -> dict[str, str]:
    """The stage's ENV applied to a clean environment, /opt/venv and /data mapped to tmp dirs."""
    env = clean_env(data)
    for key, value in stage_env(stage).items():
        value = value.replace("/opt/venv", str(venv)).replace("/data", str(data))
        env[key] = value.replace("$PATH", env.get("PATH", ""))
    return env


def copy_sources(builder: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each of the builder's COPY lines."""
    out = []
    for word, args in builder:
        if word == "COPY":
            parts = shlex.split(args)
            assert not any(p.startswith("--") for p in parts), f"COPY {args}: builder copies files"
            *sources, dest = parts
            out.append((sources, dest))
    return out


def copy_build_context(builder: list[tuple[str, str]], dest_root: Path) -> None:
    """Do the builder stage's COPY lines: repository files -> dest_root (its WORKDIR)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")  # as .dockerignore
    for sources, dest in copy_sources(builder):
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"the Dockerfile copies {source}, which does not exist"
            if src.is_dir():
                shutil.copytree(src, dest_root / dest, ignore=ignore, dirs_exist_ok=True)
            elif dest.endswith("/"):
                (dest_root / dest).mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest_root / dest / src.name)
            else:
                shutil.copy2(src, dest_root / dest)


def clean_env(data: Path) -> dict[str, str]:
    """The environment of a container with no secrets: no bot tokens, no keys, no config."""
    drop = ("SLACK_", "TELEGRAM_", "OPENAI_", "PAPERDIGEST_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PYTHONUNBUFFERED="1",
        PAPERDIGEST_DATABASE_PATH=str(data / "paperdigest.sqlite3"),
        PAPERDIGEST_SERVE_HEALTH_PORT="0",  # the OS picks a free port; the log line names it
    )
    return env


def offline(env: dict[str, str], keep: dict[str, str]) -> dict[str, str]:
    """env with no pip configuration but `keep` (the Dockerfile's), and no way out."""
    proxies = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    env = {k: v for k, v in env.items() if not k.startswith("PIP_") and k.lower() not in proxies}
    env.update({k: v for k, v in keep.items() if k.startswith("PIP_")})
    env["PIP_CONFIG_FILE"] = os.devnull  # no find-links, extra indexes or constraints
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[name] = CLOSED_PORT
    return env


class MissingDistribution(LookupError):
    pass


def requirement_closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions these requirements name, and theirs, transitively (extras
    and markers followed). Each installed version must satisfy the requirement naming it."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset()) for r in requirements]
    while todo:
        text, parent_extras = todo.pop()
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in parent_extras | {""}):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise MissingDistribution(text) from None
        assert req.specifier.contains(dist.version, prereleases=True), (
            f"{text}: {dist.version} is installed where the tests run"
        )
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        found[key[0]] = dist
        todo += [(r, frozenset(req.extras)) for r in dist.requires or ()]
    return found


def link_distributions(dists: dict[str, metadata.Distribution], into: Path) -> None:
    """Make the distributions' installed files (top-level entries of RECORD) appear in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    for name, dist in sorted(dists.items()):
        assert dist.files is not None, f"{name}: installed without a RECORD"
        for top in sorted({f.parts[0] for f in dist.files} - {"..", "__pycache__"}):
            source, target = Path(str(dist.locate_file(top))), into / top
            if source.exists() and not target.exists():  # namespace packages share a top
                target.symlink_to(source)


def build_requirements() -> dict[str, metadata.Distribution]:
    """pyproject.toml's [build-system] requires, as installed where the tests run (or a skip)."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    try:
        return requirement_closure(requires)
    except MissingDistribution as missing:
        pytest.skip(
            f"the offline build needs the build backend where the tests run: {missing} is not "
            "installed (pip install it into the test venv), or set "
            "PAPERDIGEST_TEST_DOCKER_STEPS=1 to install from the package index"
        )


class Lines:
    """A process's output, line by line, read in a thread so waiting has a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("serve ended before logging it:\n" + "".join(self.seen))
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + "".join(self.seen))

    def rest(self) -> str:
        """Everything the process wrote, once it has ended."""
        while (line := self._queue.get(timeout=10)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def test_dockerfile_shape() -> None:
    builder, runtime, *more = stages(DOCKERFILE.read_text())
    assert not more, "two stages: builder and runtime"
    for stage in (builder, runtime):
        assert stage[0][1].split()[0] == "python:3.11-slim"  # same interpreter path for the venv
    assert builder[0][1].split()[-2:] == ["AS", "builder"]

    # builder: a venv at /opt/venv, the sources the build needs, a non-editable install
    assert ("RUN", "python -m venv /opt/venv") in builder
    assert ("WORKDIR", "/src") in builder
    assert stage_env(builder)["PATH"] == "/opt/venv/bin:$PATH"
    copied = {source.rstrip("/") for sources, _ in copy_sources(builder) for source in sources}
    assert copied == {"pyproject.toml", "README.md", "digest", "bot", "config"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {project["project"]["readme"], *wheel["packages"], *wheel["force-include"]}
    assert needed <= copied, f"the build reads {needed - copied}, which is not copied"
    runs = [args for word, args in builder if word == "RUN"]
    assert runs[-1] == "pip install --no-cache-dir ."
    assert not any(" -e " in f" {r} " or "--editable" in r for r in runs)

    # runtime: only the venv from the builder, a non-root user owning the /data volume
    copies = [args for word, args in runtime if word == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    (setup,) = [args for word, args in runtime if word == "RUN"]
    assert re.search(r"useradd --system --uid (\d+)", setup).group(1) != "0"
    assert "chown paperdigest:paperdigest /data" in setup
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] == "paperdigest"
    env = stage_env(runtime)
    assert env["PATH"] == "/opt/venv/bin:$PATH"
    assert env["PAPERDIGEST_DATABASE_PATH"] == "/data/paperdigest.sqlite3"
    assert ("WORKDIR", "/data") in runtime and ("VOLUME", "/data") in runtime
    exposed = {port for word, args in runtime if word == "EXPOSE" for port in args.split()}
    assert exposed == {"8080", "3000", "8443"}

    # no secret is baked in: no ARG at all, no ENV naming a token, key or password
    all_ins = builder + runtime
    assert not [args for word, args in all_ins if word == "ARG"]
    names = {*stage_env(builder), *stage_env(runtime)}
    assert not [n for n in names if re.search(r"TOKEN|SECRET|KEY|PASSWORD", n)], names

    # HEALTHCHECK asks serve's default health port; CMD is the project's script `serve`
    (health,) = [args for word, args in runtime if word == "HEALTHCHECK"]
    assert "--timeout=5s" in health and "--start-period=" in health
    check = healthcheck_command(runtime)
    assert check[:2] == ["python", "-c"] and HEALTH_URL in check[2]
    serve = load_settings(env={}).serve  # the defaults, as the image runs with no config file
    assert serve.health_port == 8080 and "8080" in exposed
    assert serve.health_host == "0.0.0.0"  # reachable at 127.0.0.1 inside the container
    (cmd,) = [args for word, args in runtime if word == "CMD"]
    assert exec_form(cmd) == ["paperdigest", "serve"]
    assert project["project"]["scripts"]["paperdigest"] == "bot.cli:app"


HEALTH_ANSWERS = {
    "/healthz": (200, {"ok": True}),
    "/sick": (200, {"ok": False}),
    "/down": (503, {"ok": False}),
}


class _Health(http.server.BaseHTTPRequestHandler):
    """A stand-in for serve's /healthz: healthy, unhealthy, 503 (store unreadable), 404."""

    def do_GET(self) -> None:
        status, body = HEALTH_ANSWERS.get(self.path, (404, {}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_healthcheck_command() -> None:
    """The HEALTHCHECK snippet: healthy on 200 and {"ok": true} only."""
    (runtime,) = stages(DOCKERFILE.read_text())[1:]
    snippet = healthcheck_command(runtime)[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        codes = {}
        for path in ("/healthz", "/sick", "/down", "/missing"):
            probe = subprocess.run(
                [sys.executable, "-c", snippet.replace(HEALTH_URL, base + path)],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            codes[path] = probe.returncode
    finally:
        server.shutdown()
        server.server_close()
    assert codes["/healthz"] == 0
    assert codes["/sick"] != 0 and codes["/down"] != 0 and codes["/missing"] != 0


def site_packages(venv: Path) -> Path:
    python = str(venv / "bin" / "python")
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def install_like_builder(builder: list[tuple[str, str]], src: Path, venv: Path, data: Path) -> Path:
    """The builder's venv and pip line (offline unless FROM_INDEX); returns its site-packages."""
    (pip_line,) = [args for word, args in builder if word == "RUN" and args.startswith("pip ")]
    argv = shlex.split(pip_line)
    env = container_env(builder, venv, data)
    if FROM_INDEX:  # `python -m venv /opt/venv`, then the Dockerfile's own pip line verbatim
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        site, timeout = site_packages(venv), 900
    else:  # the same venv and pip line, with everything pip would download already at hand
        backend = build_requirements()
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
        )
        site, timeout = site_packages(venv), 300
        link_distributions(requirement_closure(["pip"]), site)
        link_distributions(backend, venv.parent / "build-backend")
        env = offline(env, keep=stage_env(builder))
        env["PYTHONPATH"] = str(venv.parent / "build-backend")  # for this step only
        argv += OFFLINE_PIP_FLAGS
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", *argv],  # `pip ...` with the venv's bin on PATH
        cwd=src, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    if not FROM_INDEX:  # what pip would have resolved: the installed Requires-Dist
        (dist_info,) = site.glob("paperdigest-*.dist-info")
        meta = Parser().parsestr((dist_info / "METADATA").read_text())
        try:
            needed = requirement_closure(meta.get_all("Requires-Dist") or [])
        except MissingDistribution as missing:
            raise AssertionError(f"{missing}: not installed where the tests run") from None
        link_distributions(needed, site)
    return site


def package_files(src: Path) -> set[str]:
    """What the installed packages must hold: every copied file of digest/ and bot/, and
    config/ as digest/_config/ (pyproject.toml's force-include)."""
    files = set()
    for top, inside in (("digest", "digest"), ("bot", "bot"), ("config", "digest/_config")):
        for path in (src / top).rglob("*"):
            if path.is_file():
                files.add(f"{inside}/{path.relative_to(src / top).as_posix()}")
    return files


def test_image_steps_install_serve_healthcheck_and_sample(tmp_path: Path) -> None:
    started = time.monotonic()
    builder, runtime = stages(DOCKERFILE.read_text())
    src, venv, data = tmp_path / "src", tmp_path / "venv", tmp_path / "data"
    src.mkdir()
    data.mkdir()
    copy_build_context(builder, src)
    assert not (src / "tests").exists() and not (src / ".git").exists()
    site = install_like_builder(builder, src, venv, data)
    installed = time.monotonic()
    bin_dir = venv / "bin"
    # the package data ships: templates, migrations, the local model, the sample day, config/
    wanted = package_files(src)
    assert {"digest/data/minilm-l6-int8.onnx", "digest/_config/default.toml"} <= wanted
    held = {
        p.relative_to(site).as_posix()
        for top in ("digest", "bot")
        for p in (site / top).rglob("*")
        if p.is_file()
    }
    assert not wanted - held, f"not in the installed package: {sorted(wanted - held)}"
    shutil.rmtree(src)  # the image keeps only the venv: nothing may come from the source tree

    env = container_env(runtime, venv, data)
    assert env["PATH"].startswith(f"{bin_dir}{os.pathsep}")  # ENV PATH=/opt/venv/bin:$PATH
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import bot, digest; print(digest.__file__, bot.__file__)"],
        cwd=data, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert all(Path(p).is_relative_to(venv) for p in where.stdout.split()), where.stdout

    # runtime: CMD ["paperdigest", "serve"] in WORKDIR /data, no tokens set
    (cmd,) = [args for word, args in runtime if word == "CMD"]
    command = exec_form(cmd)
    assert shutil.which(command[0], path=env["PATH"]) == str(bin_dir / command[0])
    proc = subprocess.Popen(
        [str(bin_dir / command[0]), *command[1:]],
        cwd=data,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(proc)
        port = lines.wait_for(r"healthz on \S+:(\d+)/healthz", timeout=120).group(1)
        lines.wait_for(r"\bserving( as \S+)?: ", timeout=60)  # every part has started

        # HEALTHCHECK: the image's own python snippet, pointed at this port
        check = healthcheck_command(runtime)
        assert check[:2] == ["python", "-c"]
        snippet = check[2].replace(HEALTH_URL, f"http://127.0.0.1:{port}/healthz")
        probe = subprocess.run(
            [str(bin_dir / "python"), "-c", snippet],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        broken = snippet.replace("/healthz", "/nothing")  # the check can fail, too
        failing = subprocess.run(
            [str(bin_dir / "python"), "-c", broken],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert failing.returncode != 0

        # docker stop: SIGTERM, exit 0
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        log = lines.rest()
        assert code == 0, log
        assert "stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (data / "paperdigest.sqlite3").exists()

    if not FROM_INDEX:  # the sample run costs 15-40 s; the package data was checked above
        print(f"docker steps (offline): install {installed - started:.1f} s, "
              f"all {time.monotonic() - started:.1f} s")  # fmt: skip
        return
    # the bundled sample day with the local model, from the installed (non-editable) package
    run = subprocess.run(
        [str(bin_dir / "paperdigest"), "run", "--sample"],
        cwd=data, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (data / "out" / "html" / "2026-02" / "2026-02-10.html").is_file()
    assert (data / "out" / "html" / "2026-02" / "index.html").is_file()
    print(
        f"docker steps (package index): install {installed - started:.1f} s, "
        f"all {time.monotonic() - started:.1f} s"
    )
