-- Translation (issue 13): where each translation was made, the per-guild glossary and
-- do-not-translate list, and users' personal opt-in (/translations me).
-- depends: 0003_llm_call_user

-- Where: the guild (its glossary applied) and the channel it was asked in; NULL for rows
-- stored before this migration and for translations asked outside any channel.
ALTER TABLE translations ADD COLUMN guild_id BIGINT;
ALTER TABLE translations ADD COLUMN channel_id BIGINT;
CREATE INDEX translations_pair_idx ON translations (created_at, source_language,
                                                    target_language);

-- One guild's glossary: ``rendering`` NULL = never translate the term; otherwise the term
-- becomes ``rendering`` in translations into ``language`` (every language when NULL).
CREATE TABLE glossary_entries (
    id          INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id    BIGINT NOT NULL,
    term        TEXT NOT NULL CHECK (length(term) BETWEEN 1 AND 100),
    language    TEXT,
    rendering   TEXT CHECK (rendering IS NULL OR length(rendering) BETWEEN 1 AND 100),
    created_by  BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX glossary_entries_term_idx
    ON glossary_entries (guild_id, lower(term), coalesce(language, ''));

-- A user's messages in a channel are translated into the channel's language.
CREATE TABLE translate_opt_ins (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id  BIGINT NOT NULL,
    guild_id    BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel_id)
);
