-- Read models. Disposable: `mrjbot projections rebuild` recreates any of them
-- from the event store. Each belongs to exactly one projector.

CREATE TABLE customers (
    telegram_id bigint PRIMARY KEY,
    username text,
    language text NOT NULL,
    referrer bigint,
    blocked boolean NOT NULL DEFAULT false,
    block_reason text,
    roles text[] NOT NULL DEFAULT '{}',
    balance numeric NOT NULL DEFAULT 0,
    registered_at timestamptz NOT NULL
);
CREATE INDEX customers_username ON customers (lower(username));

CREATE TABLE roles (
    name text PRIMARY KEY,
    permissions text[] NOT NULL,
    defined_at timestamptz NOT NULL
);

CREATE TABLE plans (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    duration_days integer NOT NULL,
    traffic_gb integer NOT NULL,
    price numeric NOT NULL,
    locations text[] NOT NULL,
    active boolean NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE cards (
    id uuid PRIMARY KEY,
    number text NOT NULL,
    holder text NOT NULL,
    bank text,
    active boolean NOT NULL,
    received_count bigint NOT NULL DEFAULT 0,
    received_total numeric NOT NULL DEFAULT 0,
    added_at timestamptz NOT NULL
);

CREATE TABLE payments (
    id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    amount numeric NOT NULL,
    method text NOT NULL,
    card_id uuid,
    purpose text NOT NULL,
    plan_id uuid,
    location text,
    status text NOT NULL,
    receipt text,
    decided_by text,
    reject_reason text,
    created_at timestamptz NOT NULL,
    decided_at timestamptz
);
CREATE INDEX payments_customer ON payments (customer, created_at);

CREATE TABLE pending_receipts (
    payment_id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    amount numeric NOT NULL,
    card_id uuid,
    card_number text,
    card_holder text,
    purpose text NOT NULL,
    plan_name text,
    -- NULL until the customer sends the receipt: only then is it in the queue.
    receipt text,
    created_at timestamptz NOT NULL,
    submitted_at timestamptz
);
CREATE INDEX pending_receipts_submitted ON pending_receipts (submitted_at) WHERE receipt IS NOT NULL;

CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    plan_id uuid NOT NULL,
    plan_name text NOT NULL,
    location text NOT NULL,
    status text NOT NULL,
    traffic_gb integer NOT NULL,
    paid numeric NOT NULL DEFAULT 0,
    refunded numeric NOT NULL DEFAULT 0,
    pending_charge integer,
    last_failure text,
    starts_at timestamptz,
    expires_at timestamptz,
    requested_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions (customer);
CREATE INDEX subscriptions_expiry ON subscriptions (status, expires_at);

CREATE TABLE wallet_ledger (
    position bigint PRIMARY KEY,
    customer bigint NOT NULL,
    direction text NOT NULL,
    amount numeric NOT NULL,
    reason text NOT NULL,
    reference text NOT NULL,
    balance_after numeric NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX wallet_ledger_customer ON wallet_ledger (customer, position);

-- Money per UTC day, from the wallet and payment events.
CREATE TABLE daily_totals (
    day date PRIMARY KEY,
    payments_approved_count bigint NOT NULL DEFAULT 0,
    payments_approved_total numeric NOT NULL DEFAULT 0,
    wallet_credits_total numeric NOT NULL DEFAULT 0,
    wallet_debits_total numeric NOT NULL DEFAULT 0,
    sales_count bigint NOT NULL DEFAULT 0,
    sales_total numeric NOT NULL DEFAULT 0,
    refunds_total numeric NOT NULL DEFAULT 0
);
