-- Voice: the channels Libra is in (so that a restart rejoins them) and each guild's
-- voice mode and Piper voice (/voice mode, /voice voice).
-- depends: 0003_llm_call_user

CREATE TABLE voice_channels (
    guild_id         BIGINT PRIMARY KEY,
    channel_id       BIGINT NOT NULL,
    -- Where /voice join was run: Libra's notices use its language.
    text_channel_id  BIGINT,
    joined_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE guild_settings
    ADD COLUMN voice_mode TEXT CHECK (voice_mode IN ('open', 'wake-word', 'off')),
    ADD COLUMN voice_name TEXT;
