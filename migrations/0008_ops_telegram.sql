-- Telegram-facing operations (issue 7): group notifiers, reminders, live chat,
-- broadcasts. Read models (rebuildable from events) and two delivery tables.

-- ---- delivery -----------------------------------------------------------------

-- Messages owed to Telegram chats: the staff groups' lines (one per group and
-- event position, batched into one message per send), and direct messages to
-- customers and agents (reminders, live chat). A row is written in the same
-- transaction as the courier's checkpoint, keyed by `dedupe_key`, so a replayed
-- event never queues a second row. Its state is the delivery record:
--   pending   → not sent yet (again after a 429 or an outage, from `not_before`)
--   sending   → claimed by a send attempt (`attempt_id`) that is under way
--   sent      → Telegram accepted it (`message_id`)
--   uncertain → the attempt was cut off after the request may have reached
--               Telegram (a crash, a timeout): not sent again, so never twice
--   blocked   → 403, the person blocked the bot
--   failed    → Telegram refused it for good (400: chat not found…)
CREATE TABLE tg_outbox (
    id bigserial PRIMARY KEY,
    dedupe_key text NOT NULL UNIQUE,
    chat_id bigint NOT NULL,
    -- 'line': a staff-group line, batched with the chat's next lines; 'direct': sent alone.
    kind text NOT NULL,
    topic text,
    position bigint,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    not_before timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending',
    attempt_id uuid,
    claimed_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    sent_at timestamptz,
    message_id bigint,
    error text
);
CREATE INDEX tg_outbox_open ON tg_outbox (chat_id, id) WHERE state IN ('pending', 'sending');
CREATE INDEX tg_outbox_due ON tg_outbox (not_before) WHERE state = 'pending';

-- One row per broadcast recipient, written (resolved from the segment) before
-- the first message goes out; states as in tg_outbox, plus 'skipped' for rows
-- a cancellation left unsent.
CREATE TABLE broadcast_deliveries (
    broadcast_id uuid NOT NULL,
    chat_id bigint NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    not_before timestamptz NOT NULL DEFAULT now(),
    attempt_id uuid,
    claimed_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    sent_at timestamptz,
    message_id bigint,
    error text,
    PRIMARY KEY (broadcast_id, chat_id)
);
CREATE INDEX broadcast_deliveries_open ON broadcast_deliveries (broadcast_id, chat_id) WHERE state IN ('pending', 'sending');

-- ---- read models ------------------------------------------------------------------

CREATE TABLE broadcasts (
    id uuid PRIMARY KEY,
    text text NOT NULL,
    segment jsonb NOT NULL,
    segment_label text NOT NULL,
    status text NOT NULL,
    created_by text NOT NULL,
    progress_chat bigint,
    progress_message bigint,
    recipients bigint,
    sent bigint,
    blocked bigint,
    failed bigint,
    uncertain bigint,
    skipped bigint,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    cancelled_at timestamptz,
    completed_at timestamptz
);
CREATE INDEX broadcasts_open ON broadcasts (created_at) WHERE status IN ('created', 'running', 'cancelled') AND completed_at IS NULL;

CREATE TABLE auto_renewals (
    subscription_id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    enabled boolean NOT NULL,
    open_charge integer,
    open_term timestamptz,
    -- The last term whose renewal started (each term starts once).
    last_term timestamptz,
    started_at timestamptz,
    renewals integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    last_result text,
    last_reason text,
    updated_at timestamptz NOT NULL
);
CREATE INDEX auto_renewals_customer ON auto_renewals (customer);

CREATE TABLE reminders_fired (
    customer bigint NOT NULL,
    key text NOT NULL,
    kind text NOT NULL,
    details jsonb NOT NULL,
    fired_at timestamptz NOT NULL,
    PRIMARY KEY (customer, key)
);

CREATE TABLE support_chats (
    id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    number integer NOT NULL,
    status text NOT NULL,
    agent bigint,
    opened_at timestamptz NOT NULL,
    assigned_at timestamptz,
    queued_secs bigint,
    first_response_secs bigint,
    -- The oldest customer message not answered yet (NULL when answered).
    waiting_since timestamptz,
    messages integer NOT NULL DEFAULT 0,
    closed_at timestamptz,
    duration_secs bigint,
    closed_by text,
    rating smallint,
    updated_at timestamptz NOT NULL
);
CREATE INDEX support_chats_customer ON support_chats (customer, number);
CREATE INDEX support_chats_agent ON support_chats (agent) WHERE status <> 'closed';
CREATE INDEX support_chats_queue ON support_chats (opened_at) WHERE status = 'queued';

CREATE TABLE support_messages (
    position bigint PRIMARY KEY,
    chat_id uuid NOT NULL,
    customer bigint NOT NULL,
    sender text NOT NULL,
    sender_id bigint NOT NULL,
    telegram_message_id bigint NOT NULL,
    content_type text NOT NULL,
    text text,
    file_id text,
    file_name text,
    response_secs bigint,
    at timestamptz NOT NULL
);
CREATE INDEX support_messages_chat ON support_messages (chat_id, position);

CREATE TABLE support_agents (
    agent bigint PRIMARY KEY,
    online boolean NOT NULL DEFAULT false,
    online_since timestamptz,
    open_chats integer NOT NULL DEFAULT 0,
    chats_assigned bigint NOT NULL DEFAULT 0,
    chats_closed bigint NOT NULL DEFAULT 0,
    replies bigint NOT NULL DEFAULT 0,
    responses bigint NOT NULL DEFAULT 0,
    response_secs_total bigint NOT NULL DEFAULT 0,
    response_secs_max bigint NOT NULL DEFAULT 0,
    first_responses bigint NOT NULL DEFAULT 0,
    first_response_secs_total bigint NOT NULL DEFAULT 0,
    ratings bigint NOT NULL DEFAULT 0,
    rating_total bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);

CREATE TABLE quick_replies (
    title text PRIMARY KEY,
    text text NOT NULL,
    updated_at timestamptz NOT NULL
);
