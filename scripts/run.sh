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

cargo build --release -p mrjbot
./target/release/mrjbot migrate
exec ./target/release/mrjbot serve
