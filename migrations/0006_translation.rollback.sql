-- Undo: no glossary, no personal opt-in, translations no longer say where they were made.
DROP TABLE IF EXISTS translate_opt_ins;
DROP TABLE IF EXISTS glossary_entries;
DROP INDEX IF EXISTS translations_pair_idx;
ALTER TABLE translations DROP COLUMN IF EXISTS channel_id;
ALTER TABLE translations DROP COLUMN IF EXISTS guild_id;
