# paperdigest: `paperdigest serve` (daily schedule, Slack, Telegram, GET /healthz) in a container.
#
#   docker build -t paperdigest .
#   docker run -e SLACK_BOT_TOKEN=... -e SLACK_APP_TOKEN=... -v paperdigest:/data \
#       -p 8080:8080 paperdigest
#
# Secrets (bot tokens, OPENAI_API_KEY) come only from the environment at run time; none is
# baked into the image. tests/test_dockerfile.py runs this file's install, serve and healthcheck
# steps outside Docker.

# --- Stage 1: builder ------------------------------------------------------------------------
# Installs paperdigest and its dependencies into a self-contained virtual environment at
# /opt/venv. Only what the build needs is copied in; the local scoring model
# (digest/data/minilm-l6-int8.onnx) and config/ ship inside the installed package.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY pyproject.toml README.md ./
COPY digest/ digest/
COPY bot/ bot/
COPY config/ config/
RUN pip install --no-cache-dir .

# --- Stage 2: runtime ------------------------------------------------------------------------
# The same base image (so /opt/venv's interpreter path matches), the venv from the builder and
# nothing else: no source tree, no build tools, no pip cache. Runs as a non-root user whose
# working directory /data holds the SQLite store and out/ (mount a volume there).
FROM python:3.11-slim AS runtime

RUN groupadd --system --gid 10001 paperdigest \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin paperdigest \
    && mkdir -p /data \
    && chown paperdigest:paperdigest /data

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PAPERDIGEST_DATABASE_PATH=/data/paperdigest.sqlite3

USER paperdigest
WORKDIR /data
VOLUME /data

# 8080: GET /healthz; 3000: Slack HTTP mode (/slack/events); 8443: Telegram webhook mode.
EXPOSE 8080 3000 8443

# The image has no curl: ask /healthz with Python's urllib. Healthy means HTTP 200 and
# {"ok": true}; a 503 (store unreadable) or no answer makes the check fail.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import json, sys, urllib.request as u; r = u.urlopen('http://127.0.0.1:8080/healthz', timeout=4); sys.exit(0 if r.status == 200 and json.load(r).get('ok') is True else 1)"]

# serve exits 0 on SIGTERM (docker stop), after stopping the bots and the schedule.
CMD ["paperdigest", "serve"]
