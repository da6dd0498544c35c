-- Payment gateways (Zarinpal, USDT-TRC20) and OCR readings of receipts.
-- Read models only: the rules live in the Payment and PaymentReference
-- aggregates. Disposable: `mrjbot projections rebuild` recreates them.

-- Every gateway payment: what it asks for, its evidence, how it ended.
CREATE TABLE gateway_payments (
    payment_id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    method text NOT NULL,
    amount numeric NOT NULL,
    -- pending, approved, failed
    status text NOT NULL,
    authority text,
    ref_id text,
    card_pan text,
    usdt_address text,
    usdt_contract text,
    usdt_amount numeric,
    usdt_rate numeric,
    confirmations integer,
    expires_at timestamptz,
    tx_hash text,
    tx_from text,
    tx_block bigint,
    failure text,
    refusals integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    decided_at timestamptz
);
CREATE INDEX gateway_payments_pending ON gateway_payments (method, created_at) WHERE status = 'pending';
CREATE INDEX gateway_payments_authority ON gateway_payments (authority);

-- Every refused attempt: on a payment, or on a reference nobody owed.
CREATE TABLE gateway_incidents (
    position bigint PRIMARY KEY,
    payment_id uuid,
    reference text NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX gateway_incidents_payment ON gateway_incidents (payment_id);

-- The latest OCR reading of each card-to-card payment's receipt, shown
-- beside the photo in the admin queue.
CREATE TABLE receipt_readings (
    payment_id uuid PRIMARY KEY,
    file text NOT NULL,
    amount numeric,
    card text,
    tracking text,
    paid_at timestamptz,
    -- flag names (amount_differs, card_differs, tracking_reused, ...)
    flags text[] NOT NULL,
    -- the flags with their values, as the event carries them
    flag_details jsonb NOT NULL,
    engine text NOT NULL,
    text text NOT NULL,
    read_at timestamptz NOT NULL
);
CREATE INDEX receipt_readings_tracking ON receipt_readings (tracking);
