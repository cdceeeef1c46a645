-- Undo: voice channels are no longer remembered; guild voice preferences go.
DROP TABLE IF EXISTS voice_channels;
ALTER TABLE guild_settings DROP COLUMN IF EXISTS voice_mode, DROP COLUMN IF EXISTS voice_name;
