-- 022: exchange sync runs, and the summary packs generated from them in the background.
CREATE TABLE IF NOT EXISTS runs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL DEFAULT 'exchange_sync',
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE IF NOT EXISTS summary_packs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source_run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
    range         text NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    summary       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ready_at      timestamptz
);
CREATE INDEX IF NOT EXISTS summary_packs_user_range ON summary_packs (user_id, range, created_at DESC);
