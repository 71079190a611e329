"""The Dockerfile, proved without a Docker engine: its steps are run directly.

The builder stage's `COPY` lines say which files the image holds; they are copied from the
repository into a fresh directory, the builder's `pip install` line is run there into a fresh
venv (a real, non-editable install from the package index), and the runtime stage's
`CMD` (`paperdigest serve`) and `HEALTHCHECK` are run against that venv from an empty data
directory, as the container would. The slowest test of the suite: one venv build.
"""

from __future__ import annotations

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
HEALTH_URL = "http://127.0.0.1:8080/healthz"


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


def copy_build_context(builder: list[tuple[str, str]], dest_root: Path) -> None:
    """Do the builder stage's COPY lines: repository files -> dest_root (its WORKDIR)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")  # as .dockerignore
    for word, args in builder:
        if word != "COPY":
            continue
        parts = shlex.split(args)
        assert not any(p.startswith("--") for p in parts), f"COPY {args}: builder copies files"
        *sources, dest = parts
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
        assert stage[0][1].split()[0] == "python:3.11-slim"
    assert ("RUN", "pip install --no-cache-dir .") in builder
    assert ("RUN", "python -m venv /opt/venv") in builder
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert "PAPERDIGEST_DATABASE_PATH=/data/paperdigest.sqlite3" in env
    assert ("WORKDIR", "/data") in runtime and ("VOLUME", "/data") in runtime
    assert set("8080 3000 8443".split()) <= {
        port for word, args in runtime if word == "EXPOSE" for port in args.split()
    }
    (health,) = [args for word, args in runtime if word == "HEALTHCHECK"]
    assert HEALTH_URL in health
    (cmd,) = [args for word, args in runtime if word == "CMD"]
    assert exec_form(cmd) == ["paperdigest", "serve"]


def test_image_steps_install_serve_healthcheck_and_sample(tmp_path: Path) -> None:
    started = time.monotonic()
    builder, runtime = stages(DOCKERFILE.read_text())
    (workdir,) = [args for word, args in builder if word == "WORKDIR"]
    assert workdir == "/src"
    src, venv, data = tmp_path / "src", tmp_path / "venv", tmp_path / "data"
    src.mkdir()
    data.mkdir()
    copy_build_context(builder, src)
    assert not (src / "tests").exists() and not (src / ".git").exists()

    # builder: `python -m venv /opt/venv`, then the Dockerfile's own pip line in that venv
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    (pip_line,) = [args for word, args in builder if word == "RUN" and args.startswith("pip ")]
    argv = shlex.split(pip_line)
    install = subprocess.run(
        [str(bin_dir / argv[0]), *argv[1:]],
        cwd=src,
        env=clean_env(data),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    shutil.rmtree(src)  # the image keeps only the venv: nothing may come from the source tree

    env = clean_env(data)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # ENV PATH=/opt/venv/bin:$PATH
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import bot, digest; print(digest.__file__, bot.__file__)"],
        cwd=data, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert all(Path(p).is_relative_to(venv) for p in where.stdout.split()), where.stdout

    # runtime: CMD ["paperdigest", "serve"] in WORKDIR /data, no tokens set
    (cmd,) = [args for word, args in runtime if word == "CMD"]
    command = exec_form(cmd)
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
        lines.wait_for(r"serving: ", timeout=60)

        # HEALTHCHECK: the image's own python snippet, pointed at this port
        (health,) = [args for word, args in runtime if word == "HEALTHCHECK"]
        check = exec_form(health[health.index("CMD") + len("CMD") :].strip())
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

    # the bundled sample day with the local model, from the installed (non-editable) package
    run = subprocess.run(
        [str(bin_dir / "paperdigest"), "run", "--sample"],
        cwd=data, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (data / "out" / "html" / "2026-02" / "2026-02-10.html").is_file()
    assert (data / "out" / "html" / "2026-02" / "index.html").is_file()
    print(f"docker steps: {time.monotonic() - started:.0f} s")
