-- 020: guided reviews (a questionnaire over past trades) and daily journaling streaks.
CREATE TABLE IF NOT EXISTS guided_reviews (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period     text NOT NULL,
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS guided_review_items (
    id        bigserial PRIMARY KEY,
    review_id bigint NOT NULL REFERENCES guided_reviews (id) ON DELETE CASCADE,
    trade_id  bigint REFERENCES trades (id) ON DELETE SET NULL,
    question  text NOT NULL,
    answer    text
);

CREATE TABLE IF NOT EXISTS user_streaks (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    current_days integer NOT NULL DEFAULT 0,
    longest_days integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
