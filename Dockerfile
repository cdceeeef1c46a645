# Libra: one container, local models only, no secrets inside.
#
#   docker build -t libra .                                  # voice (Vosk, Piper, espeak-ng)
#   docker build --build-arg WITH_WHISPER=1 -t libra .       # + Whisper (faster-whisper)
#   docker build --build-arg LIBRA_MODELS="vosk-model-small-en-us-0.15 en_US-lessac-medium" .
#
# Dependencies come from requirements/image*.txt: the versions of constraints.txt with
# the SHA-256 of every file PyPI serves for them (scripts/lock-image regenerates them),
# installed with --require-hashes, so a changed or substituted package fails the build.
# The image runs as uid 10001 on a read-only root filesystem: everything Libra writes
# goes to /data (a volume) or /tmp (a tmpfs); see docs/deployment.md.

FROM python:3.11-slim-bookworm AS build
ARG WITH_WHISPER=0
ARG LIBRA_MODELS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# Every dependency is downloaded and checked against requirements/*.txt's hashes, and
# built into a wheel here (a few exist only as source) with the hashed build tools, so
# no unchecked build dependency is fetched. The runtime venv then gets only wheels, and
# no pip or setuptools of its own: nothing can pip-install at run time anyway.
COPY requirements/ ./requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.txt \
    && lock=requirements/image.txt \
    && if [ "$WITH_WHISPER" = 1 ]; then lock=requirements/image-whisper.txt; fi \
    && /opt/build/bin/pip wheel --require-hashes --no-deps --no-build-isolation \
        --wheel-dir /wheels -r "$lock"
# Libra itself last: its code changes more often than its dependencies.
COPY pyproject.toml README.md LICENSE ./
COPY libra/ ./libra/
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/libra \
    && /opt/build/bin/pip --python /opt/libra/bin/python install --no-index --no-deps \
        /wheels/*.whl
# Voice models chosen at build time, checked against their pinned SHA-256. The folder
# is read-only in the image: Libra lists and loads them; `libra models pull` there
# fails with a clear message (pull into /data/models instead, see docs/deployment.md).
RUN mkdir -p /opt/libra-models \
    && if [ -n "$LIBRA_MODELS" ]; then \
        read -r -a models <<< "$LIBRA_MODELS" \
        && LIBRA_VOICE__MODELS_DIR=/opt/libra-models LIBRA_DATA_DIR=/tmp/libra \
            /opt/libra/bin/libra models pull "${models[@]}" \
        && rm -rf /opt/libra-models/.partial /opt/libra-models/.locks; \
    fi

FROM python:3.11-slim-bookworm
ARG LIBRA_MODELS=""
LABEL org.opencontainers.image.title="Libra" \
      org.opencontainers.image.description="Self-hosted multilingual AI companion for Discord" \
      org.opencontainers.image.licenses="MIT"
# espeak-ng: the offline fallback voice for languages Piper has no voice for.
# The user has no home to write in: caches go to /tmp (XDG_CACHE_HOME below).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 libra \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /home/libra \
        --shell /usr/sbin/nologin libra \
    && install -d -o root -g root -m 0755 /home/libra \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /opt/libra /opt/libra
COPY --from=build /opt/libra-models /opt/libra-models
WORKDIR /app
COPY config/ ./config/
COPY migrations/ ./migrations/
# COPY keeps the checkout's modes: a clone made under umask 077 has 0600 files that
# uid 10001 could not read. Readable and traversable by all, writable by none but root.
RUN chmod -R a+rX,go-w /app/config /app/migrations
# Where everything writes (docs/deployment.md lists what was found, and how):
#   /data  state: embedded PostgreSQL, pending writes, backups, pulled models, heartbeat
#   /tmp   scratch: library caches (onnxruntime's telemetry id, Hugging Face), the
#          embedded PostgreSQL's socket when /data's path is too long for one
# An empty LIBRA_VOICE__MODELS_DIR leaves the default, /data/models.
ENV PATH=/opt/libra/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/libra \
    XDG_CACHE_HOME=/tmp/cache \
    XDG_RUNTIME_DIR=/tmp \
    HF_HUB_DISABLE_TELEMETRY=1 \
    LIBRA_DATA_DIR=/data \
    LIBRA_VOICE__MODELS_DIR=${LIBRA_MODELS:+/opt/libra-models}
VOLUME ["/data"]
USER 10001:10001
# Works with the admin port off: `libra run` rewrites /data/heartbeat.json every 15 s
# and `libra health` fails when it is missing or older than three beats.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["libra", "health"]
# Without DATABASE_URL Libra starts its embedded PostgreSQL in /data.
ENTRYPOINT ["libra"]
CMD ["run"]
