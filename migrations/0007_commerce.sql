-- Commerce (issue 6): sales facts for reports, seller commissions and
-- withdrawals, agent prices, discount codes, loyalty points. Read models,
-- each kept by one projector and rebuildable from the events.

-- One row per settled charge, with what reports group it by.
CREATE TABLE sales (
    subscription_id uuid NOT NULL,
    charge_no integer NOT NULL,
    kind text NOT NULL,
    customer bigint NOT NULL,
    plan_id uuid NOT NULL,
    plan_name text NOT NULL,
    location text NOT NULL,
    amount numeric NOT NULL,
    seller bigint,
    source text,
    at timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, charge_no)
);
CREATE INDEX sales_at ON sales (at);
CREATE INDEX sales_seller ON sales (seller, at);

-- One row per refunded subscription.
CREATE TABLE sale_refunds (
    subscription_id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    plan_id uuid NOT NULL,
    plan_name text NOT NULL,
    location text NOT NULL,
    seller bigint,
    refund numeric NOT NULL,
    paid numeric NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX sale_refunds_at ON sale_refunds (at);

-- Money received, by method and destination card (card owner tracking).
CREATE TABLE payments_received (
    payment_id uuid PRIMARY KEY,
    customer bigint NOT NULL,
    amount numeric NOT NULL,
    method text NOT NULL,
    card_id uuid,
    card_number text,
    card_holder text,
    created_at timestamptz,
    approved_at timestamptz
);
CREATE INDEX payments_received_approved ON payments_received (approved_at) WHERE approved_at IS NOT NULL;

CREATE TABLE commissions (
    subscription_id uuid NOT NULL,
    charge_no integer NOT NULL,
    seller bigint NOT NULL,
    customer bigint NOT NULL,
    plan_id uuid NOT NULL,
    sale_amount numeric NOT NULL,
    rate text NOT NULL,
    commission numeric NOT NULL,
    reversed numeric NOT NULL DEFAULT 0,
    -- pending (inside the refund window), released, reversed (entirely)
    status text NOT NULL,
    releases_at timestamptz NOT NULL,
    earned_at timestamptz NOT NULL,
    released_at timestamptz,
    PRIMARY KEY (subscription_id, charge_no)
);
CREATE INDEX commissions_seller ON commissions (seller, earned_at);
CREATE INDEX commissions_due ON commissions (releases_at) WHERE status = 'pending';

CREATE TABLE seller_balances (
    seller bigint PRIMARY KEY,
    pending numeric NOT NULL DEFAULT 0,
    available numeric NOT NULL DEFAULT 0,
    reserved numeric NOT NULL DEFAULT 0,
    paid_out numeric NOT NULL DEFAULT 0,
    earned_total numeric NOT NULL DEFAULT 0,
    reversed_total numeric NOT NULL DEFAULT 0,
    commissions_count bigint NOT NULL DEFAULT 0,
    clients bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);

CREATE TABLE withdrawals (
    id uuid PRIMARY KEY,
    seller bigint NOT NULL,
    amount numeric NOT NULL,
    card_number text NOT NULL,
    holder text NOT NULL,
    -- requested, approved, rejected, paid
    status text NOT NULL,
    requested_at timestamptz NOT NULL,
    decided_by text,
    decided_at timestamptz,
    reject_reason text,
    bank_reference text,
    paid_at timestamptz
);
CREATE INDEX withdrawals_open ON withdrawals (requested_at) WHERE status IN ('requested', 'approved');
CREATE INDEX withdrawals_seller ON withdrawals (seller, requested_at);

CREATE TABLE agent_prices (
    seller bigint NOT NULL,
    plan_id uuid NOT NULL,
    plan_name text NOT NULL,
    list_price numeric NOT NULL,
    price numeric NOT NULL,
    set_at timestamptz NOT NULL,
    PRIMARY KEY (seller, plan_id)
);

CREATE TABLE discount_codes (
    code text PRIMARY KEY,
    kind text NOT NULL,
    value numeric NOT NULL,
    max_uses integer,
    max_uses_per_customer integer,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz,
    plans uuid[] NOT NULL,
    locations text[] NOT NULL,
    only_customer bigint,
    active boolean NOT NULL,
    uses integer NOT NULL DEFAULT 0,
    discount_total numeric NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL
);

CREATE TABLE points_balances (
    customer bigint PRIMARY KEY,
    balance bigint NOT NULL DEFAULT 0,
    earned_total bigint NOT NULL DEFAULT 0,
    redeemed_total bigint NOT NULL DEFAULT 0,
    expired_total bigint NOT NULL DEFAULT 0,
    clawed_back_total bigint NOT NULL DEFAULT 0,
    -- The last account-age period awarded (the longevity scheduler's marker).
    longevity_periods integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);
CREATE INDEX points_leaderboard ON points_balances (earned_total DESC, customer);

CREATE TABLE points_lots (
    customer bigint NOT NULL,
    reference text NOT NULL,
    reason text NOT NULL,
    points bigint NOT NULL,
    remaining bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    earned_at timestamptz NOT NULL,
    PRIMARY KEY (customer, reference)
);
CREATE INDEX points_lots_due ON points_lots (expires_at) WHERE remaining > 0;

-- Look-ups on the event store itself (the source of truth) by an id inside a payload.
CREATE INDEX events_discount_subscription ON events (((payload -> 'DiscountCodeRedeemed') ->> 'subscription_id'))
    WHERE aggregate_type = 'DiscountCode';
CREATE INDEX events_withdrawal_id ON events (((payload -> 'WithdrawalRequested') ->> 'withdrawal_id'))
    WHERE aggregate_type = 'SellerAccount';
