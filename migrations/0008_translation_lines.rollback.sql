-- Undo: posts no longer remember their lines (edits re-translate the whole post).
ALTER TABLE translation_posts DROP COLUMN IF EXISTS combined;
ALTER TABLE translation_post_sources
    DROP COLUMN IF EXISTS translations,
    DROP COLUMN IF EXISTS reply_to_id,
    DROP COLUMN IF EXISTS source_channel_id,
    DROP COLUMN IF EXISTS author_name;
