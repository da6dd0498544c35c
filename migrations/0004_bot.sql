-- The Telegram bot's own state (issue 4). None of it is business state:
-- that changes only through commands and lives in events. These tables make
-- the bot an exactly-once adapter over Telegram's at-least-once delivery.

-- Every update Telegram delivered, recorded before it is confirmed (polling)
-- or acknowledged (webhook). The primary key is what makes a redelivered
-- update a no-op; `handled_at` marks it done, and an unhandled row whose
-- lease ran out (the process died) is handled again, with idempotent commands.
CREATE TABLE bot_inbox (
    update_id bigint PRIMARY KEY,
    chat_id bigint,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    handled_at timestamptz,
    error text
);
CREATE INDEX bot_inbox_unhandled ON bot_inbox (lease_until) WHERE handled_at IS NULL;
CREATE INDEX bot_inbox_received ON bot_inbox (received_at);

-- Conversation state per chat: what the bot is waiting for from this person
-- (a receipt photo, an amount, a reason).
CREATE TABLE bot_sessions (
    chat_id bigint PRIMARY KEY,
    state jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Messages the notifier owes people. Rows are written in the same
-- transaction as the notifier's checkpoint, one per (event, recipient) by
-- `dedupe_key`, so a replayed event never queues a second message.
CREATE TABLE bot_outbox (
    id bigserial PRIMARY KEY,
    dedupe_key text NOT NULL UNIQUE,
    chat_id bigint NOT NULL,
    message jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    not_before timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    sent_at timestamptz,
    -- Telegram's id for the message once sent (queue items are edited after a decision).
    message_id bigint,
    -- 'blocked' when the person blocked the bot, or the last error.
    failed text
);
CREATE INDEX bot_outbox_due ON bot_outbox (not_before) WHERE sent_at IS NULL AND failed IS NULL;

-- Buttons that must act once even when pressed twice (a renewal has no
-- natural idempotency key): the nonce of the confirmation button.
CREATE TABLE bot_once (
    key text PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now()
);
