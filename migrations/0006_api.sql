-- HTTP API (issue 5).

-- Read model of the Staff aggregate: who may sign in to the dashboard with a
-- password. The hash and the TOTP key stay in the events only.
CREATE TABLE staff_accounts (
    telegram_id bigint PRIMARY KEY,
    totp_enabled boolean NOT NULL DEFAULT false,
    suspended boolean NOT NULL DEFAULT false,
    suspend_reason text,
    created_at timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL
);

-- Not event-sourced: short-lived security state, like panel_status. A session
-- is one sign-in; its refresh token is stored as a SHA-256 hash and rotated on
-- every refresh, and a reused (stolen) refresh token revokes the session.
CREATE TABLE api_sessions (
    id uuid PRIMARY KEY,
    telegram_id bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('staff', 'customer')),
    refresh_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ip text,
    user_agent text,
    revoked_at timestamptz,
    revoked_reason text
);
CREATE INDEX api_sessions_user ON api_sessions (telegram_id, created_at);

-- One-time sign-in codes the bot sends to customers; stored as a keyed hash,
-- single use, with an expiry and a bounded number of guesses.
CREATE TABLE api_login_codes (
    telegram_id bigint PRIMARY KEY,
    code_hash bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- The last TOTP time step each staff member used, so a code works once.
CREATE TABLE api_totp_steps (
    telegram_id bigint PRIMARY KEY,
    last_step bigint NOT NULL
);
