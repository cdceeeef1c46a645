-- Undo: no linked or auto-translated channels, no message mappings.
DROP TABLE IF EXISTS translation_post_sources;
DROP TABLE IF EXISTS translation_posts;
DROP TABLE IF EXISTS translation_channels;
DROP TABLE IF EXISTS translation_groups;
