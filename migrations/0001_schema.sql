-- Libra schema v1. Migrations are the only place tables are created.
-- Discord ids are BIGINT; internal ids are identity integers with ON DELETE CASCADE.

CREATE TABLE users (
    id          INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    discord_id  BIGINT NOT NULL UNIQUE,
    language    TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE guild_settings (
    guild_id         BIGINT PRIMARY KEY,
    language         TEXT,
    pinned_language  TEXT,
    flags            JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE channel_settings (
    channel_id         BIGINT PRIMARY KEY,
    guild_id           BIGINT,
    language           TEXT,
    pinned_language    TEXT,
    candidate          TEXT,
    candidate_count    INTEGER NOT NULL DEFAULT 0 CHECK (candidate_count >= 0),
    auto_translate_to  TEXT,
    chat_enabled       BOOLEAN NOT NULL DEFAULT false,
    flags              JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX channel_settings_guild_idx ON channel_settings (guild_id);

CREATE TABLE sessions (
    id          INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id  BIGINT NOT NULL,
    guild_id    BIGINT,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at    TIMESTAMPTZ
);
-- One open session per user and channel; also serves the open-session lookup.
CREATE UNIQUE INDEX sessions_open_idx ON sessions (user_id, channel_id) WHERE ended_at IS NULL;
-- Cascading deletes of a user scan sessions by user_id.
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE messages (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id         INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    channel_id         BIGINT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    status             TEXT NOT NULL DEFAULT 'complete'
                       CHECK (status IN ('complete', 'stopped', 'cut', 'failed')),
    content            TEXT NOT NULL,
    language           TEXT,
    model              TEXT,
    prompt_tokens      INTEGER CHECK (prompt_tokens >= 0),
    completion_tokens  INTEGER CHECK (completion_tokens >= 0),
    latency_ms         DOUBLE PRECISION,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX messages_session_recent_idx ON messages (session_id, id DESC);
CREATE INDEX messages_channel_recent_idx ON messages (channel_id, id DESC);
CREATE INDEX messages_user_idx ON messages (user_id);

CREATE TABLE memories (
    id          INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'guild', 'channel')),
    content     TEXT NOT NULL,
    metadata    JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX memories_user_idx ON memories (user_id, id);

CREATE TABLE translations (
    id               INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source_language  TEXT NOT NULL,
    target_language  TEXT NOT NULL,
    source_text      TEXT NOT NULL,
    translated_text  TEXT NOT NULL,
    model            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX translations_user_idx ON translations (user_id, id DESC);

CREATE TABLE llm_calls (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model              TEXT NOT NULL,
    language           TEXT,
    guild_id           BIGINT,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    first_token_ms     DOUBLE PRECISION,
    latency_ms         DOUBLE PRECISION NOT NULL,
    cache_hit          BOOLEAN NOT NULL DEFAULT false,
    error_code         TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_created_idx ON llm_calls (created_at);
