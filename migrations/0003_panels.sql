-- 3x-UI panels and where each subscription's client lives.

CREATE TABLE panels (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    location text NOT NULL,
    base_url text NOT NULL,
    sub_base_url text NOT NULL,
    public_host text NOT NULL,
    inbound_ids bigint[] NOT NULL,
    capacity integer NOT NULL,
    enabled boolean NOT NULL,
    healthy boolean NOT NULL,
    retired boolean NOT NULL DEFAULT false,
    health_reason text,
    registered_at timestamptz NOT NULL
);
CREATE INDEX panels_location ON panels (lower(location));

ALTER TABLE subscriptions
    ADD COLUMN provisioning text NOT NULL DEFAULT 'not_started',
    ADD COLUMN provisioning_error text,
    ADD COLUMN panel_id uuid,
    ADD COLUMN inbound_id bigint,
    ADD COLUMN client_email text,
    ADD COLUMN client_uuid uuid,
    ADD COLUMN sub_id text,
    ADD COLUMN sub_url text,
    ADD COLUMN links text[] NOT NULL DEFAULT '{}',
    ADD COLUMN customer_alerts smallint[] NOT NULL DEFAULT '{}';
CREATE INDEX subscriptions_panel ON subscriptions (panel_id);

-- Not event-sourced: traffic counters pulled from the panels every few
-- minutes (refilled by the next sync after a rebuild). Threshold crossings
-- that matter to money and messages are events on the subscription.
CREATE TABLE subscription_usage (
    subscription_id uuid PRIMARY KEY,
    panel_id uuid NOT NULL,
    email text NOT NULL,
    up_bytes bigint NOT NULL,
    down_bytes bigint NOT NULL,
    total_bytes bigint NOT NULL,
    panel_expiry_ms bigint NOT NULL,
    panel_enabled boolean NOT NULL,
    last_online_ms bigint NOT NULL,
    synced_at timestamptz NOT NULL
);

-- Not event-sourced: the monitor's latest reading of each panel. Health
-- changes (after consecutive failures) are events on the panel.
CREATE TABLE panel_status (
    panel_id uuid PRIMARY KEY,
    ok boolean NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error text,
    cpu_percent double precision,
    mem_current bigint,
    mem_total bigint,
    disk_current bigint,
    disk_total bigint,
    xray_state text,
    xray_version text,
    uptime_secs bigint,
    api text,
    checked_at timestamptz NOT NULL
);

-- Client emails carry the customer's number (their rank in registration
-- order) and the subscription's sequence for that customer, both read from the
-- immutable stream; these partial indexes keep those counts cheap.
CREATE INDEX events_customer_registered ON events (position) WHERE event_type = 'CustomerRegistered';
CREATE INDEX events_subscription_customer ON events (((payload->'SubscriptionRequested'->>'customer')), position)
    WHERE event_type = 'SubscriptionRequested';
CREATE INDEX subscriptions_panel_load ON subscriptions (panel_id, inbound_id) WHERE provisioning IN ('started', 'provisioned', 'missing');
