#!/usr/bin/env bash
# Runs MRJ Bot on this machine: builds `mrjbot`, makes sure PostgreSQL is
# reachable (installing and starting the distribution's PostgreSQL when none
# is, with a generated password kept in .mrjbot/), migrates, and starts
# `mrjbot serve`. NATS is optional: set NATS_URL to use it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
  as_root apt-get update -qq && as_root apt-get install -y -qq build-essential pkg-config
fi

state=.mrjbot
mkdir -p "$state"
if [ -z "${DATABASE_URL:-}" ] && [ -f "$state/database_url" ]; then
  DATABASE_URL=$(cat "$state/database_url")
fi
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mrjbot}

# host and port of DATABASE_URL, for pg_isready
hostport=${DATABASE_URL#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}; [ "$port" = "$hostport" ] && port=5432

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_isready -q -h "$host" -p "$port"; then
  case "$host" in
    127.0.0.1|localhost|::1) ;;
    *) echo "PostgreSQL at $host:$port is not reachable; fix DATABASE_URL or start it." >&2; exit 1 ;;
  esac
  echo "No PostgreSQL on $host:$port: installing the distribution's PostgreSQL..."
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$host" -p "$port" && break; sleep 1; done
  password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  as_root su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mrjbot') THEN
    CREATE ROLE mrjbot LOGIN CREATEDB PASSWORD '$password';
  ELSE
    ALTER ROLE mrjbot PASSWORD '$password';
  END IF;
END \$\$;
SQL
  DATABASE_URL="postgres://mrjbot:$password@$host:$port/mrjbot"
  (umask 077 && printf '%s' "$DATABASE_URL" > "$state/database_url")
  echo "PostgreSQL is running; its URL is saved in $state/database_url"
fi
export DATABASE_URL

# MRJ_SECRET_KEY signs the API's tokens and encrypts secrets at rest (TOTP
# keys, panel credentials); generated once and kept in .mrjbot/ when unset.
if [ -z "${MRJ_SECRET_KEY:-}" ]; then
  if [ ! -f "$state/secret_key" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$state/secret_key")
    echo "Generated MRJ_SECRET_KEY in $state/secret_key (back it up: encrypted secrets need it)"
  fi
  MRJ_SECRET_KEY=$(cat "$state/secret_key")
fi
export MRJ_SECRET_KEY

# The dashboard (served by `mrjbot serve` on HTTP_ADDR, default 127.0.0.1:8080).
if command -v npm >/dev/null 2>&1; then
  (cd dashboard && { [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build --silent)
else
  echo "npm is not installed: serving the API without the dashboard (install Node.js 20+ and run this again)" >&2
fi

cargo build --release -p mrjbot
./target/release/mrjbot migrate
exec ./target/release/mrjbot serve
