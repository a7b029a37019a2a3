-- 021: AI review is open to allowlisted accounts only while in beta.
ALTER TABLE users ADD COLUMN IF NOT EXISTS ai_allowlisted boolean NOT NULL DEFAULT false;
