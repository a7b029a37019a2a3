-- 019: the journal's base tables: accounts, imported trades, and chart notes ("bubbles").
CREATE TABLE IF NOT EXISTS users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS trades (
    id        bigserial PRIMARY KEY,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol    text NOT NULL,
    side      text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity  numeric NOT NULL,
    price     numeric NOT NULL,
    pnl       numeric NOT NULL DEFAULT 0,
    traded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trades_user_traded_at ON trades (user_id, traded_at);

CREATE TABLE IF NOT EXISTS bubbles (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol     text NOT NULL,
    note       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bubbles_user ON bubbles (user_id);
