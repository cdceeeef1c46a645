-- Linked and auto-translated channels (issue 13): which channels translate into which,
-- and which posted message mirrors which original, so that edits re-translate and
-- deletes delete even after a restart.
-- depends: 0006_translation

-- A group of channels that translate into each other: ``linked`` (two or more channels,
-- one language each) or ``auto`` (one channel, several languages, translations posted
-- beneath each message).
CREATE TABLE translation_groups (
    id          INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id    BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('linked', 'auto')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX translation_groups_guild_idx ON translation_groups (guild_id);

-- A channel is in at most one group; ``languages`` holds one code for a linked channel,
-- the channel's languages for an auto-translated one.
CREATE TABLE translation_channels (
    channel_id  BIGINT PRIMARY KEY,
    group_id    INTEGER NOT NULL REFERENCES translation_groups(id) ON DELETE CASCADE,
    languages   TEXT[] NOT NULL CHECK (cardinality(languages) >= 1),
    created_by  BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX translation_channels_group_idx ON translation_channels (group_id);

-- One message Libra posted with translations (through a webhook, or as itself when
-- ``webhook_id`` is NULL) into ``target_channel_id``; ``author_name`` and ``reply_to_id``
-- (the message it points to in the target channel) let an edit render it again.
CREATE TABLE translation_posts (
    id                 INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id           INTEGER NOT NULL REFERENCES translation_groups(id) ON DELETE CASCADE,
    source_channel_id  BIGINT NOT NULL,
    target_channel_id  BIGINT NOT NULL,
    target_message_id  BIGINT NOT NULL UNIQUE,
    webhook_id         BIGINT,
    languages          TEXT[] NOT NULL CHECK (cardinality(languages) >= 1),
    author_name        TEXT NOT NULL DEFAULT '',
    reply_to_id        BIGINT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The originals a post translates, in order: one, or several consecutive messages of one
-- author coalesced under a backlog. ``source_text`` is kept to re-translate the post when
-- one of them is edited or deleted; ``author_id`` so a user's erasure can remove it.
CREATE TABLE translation_post_sources (
    post_id            INTEGER NOT NULL REFERENCES translation_posts(id) ON DELETE CASCADE,
    source_message_id  BIGINT NOT NULL,
    position           SMALLINT NOT NULL DEFAULT 0,
    author_id          BIGINT NOT NULL,
    source_text        TEXT NOT NULL,
    PRIMARY KEY (post_id, source_message_id)
);
CREATE INDEX translation_post_sources_message_idx
    ON translation_post_sources (source_message_id);
CREATE INDEX translation_post_sources_author_idx ON translation_post_sources (author_id);
