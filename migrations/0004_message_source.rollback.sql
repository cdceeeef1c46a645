-- Undo: messages no longer record the transport of their turn (the sources are lost).
ALTER TABLE messages DROP CONSTRAINT messages_source_check;
ALTER TABLE messages DROP COLUMN source;
