-- The event store. Columns up to `metadata` are postgres-es' schema; it names
-- its columns, so the extra ones below are filled by defaults and triggers.
CREATE TABLE events (
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL,
    event_version text NOT NULL,
    payload json NOT NULL,
    metadata json NOT NULL,
    -- Global position: gapless and in commit order (see event_head below).
    position bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- Optimistic concurrency: two writers cannot both append sequence N.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_position ON events (position);

CREATE TABLE snapshots (
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- One row holding the last position handed out. Taking the next position
-- updates this row, and the row lock is held until the writer's transaction
-- ends, so a later position can only be taken after every earlier one has
-- committed (or rolled back, giving its number back). Readers that ask for
-- `position > checkpoint` therefore never skip an event that commits late.
CREATE TABLE event_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint NOT NULL
);
INSERT INTO event_head (position) VALUES (0);

CREATE FUNCTION events_assign_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_head SET position = position + 1 RETURNING position INTO NEW.position;
    RETURN NEW;
END $$;

CREATE TRIGGER events_position BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_assign_position();

-- Wakes the direct feed; delivered at commit, deduplicated within a transaction.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mrjbot_events', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- The event store is append-only: history is never rewritten.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event store is append-only';
END $$;

CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Where each consumer (projector, relay, process manager) has got to. A
-- projector updates its row in the same transaction as its read model.
CREATE TABLE checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
