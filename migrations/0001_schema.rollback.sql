-- Undo schema v1 (drops every table and all data in them).
DROP TABLE IF EXISTS llm_calls;
DROP TABLE IF EXISTS translations;
DROP TABLE IF EXISTS memories;
DROP TABLE IF EXISTS messages;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS channel_settings;
DROP TABLE IF EXISTS guild_settings;
DROP TABLE IF EXISTS users;
