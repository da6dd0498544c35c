#!/usr/bin/env bash
# Runs every test against the machine's real PostgreSQL and NATS JetStream,
# starting (or installing from the distribution) whichever is not running.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL on 127.0.0.1:5432; tests log in as `postgres` without a password.
if ! port_open 5432; then
  ls /etc/postgresql/*/main >/dev/null 2>&1 || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    # Test machines only: trust local TCP logins, as CI's PostgreSQL does.
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
fi

# pg_dump and psql for the backup and restore tests (issue 7).
command -v pg_dump >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 || apt_install postgresql-client

# NATS with JetStream on 127.0.0.1:4222.
if ! port_open 4222; then
  command -v nats-server >/dev/null 2>&1 || apt_install nats-server
  mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 30); do port_open 4222 && break; sleep 1; done
fi

# Databases left behind by an interrupted run.
psql_admin() { psql "${MRJ_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -qAt "$@"; }
if command -v psql >/dev/null 2>&1; then
  for db in $(psql_admin -c "SELECT datname FROM pg_database WHERE datname LIKE 'mrjbot_test_%' OR datname LIKE 'mrjbot_bench_%'"); do
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  done
fi

# Receipt OCR (ocr crate): Tesseract with its Persian and English data from
# Debian, and text2image with fonts to render the test receipts.
if ! command -v text2image >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx fas \
  || ! tesseract --list-langs 2>/dev/null | grep -qx eng \
  || [ ! -f /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf ] \
  || [ ! -f /usr/share/fonts/truetype/freefont/FreeSerif.ttf ] \
  || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]; then
  apt_install tesseract-ocr tesseract-ocr-fas tesseract-ocr-eng fonts-dejavu-core fonts-noto-core fonts-freefont-ttf
fi

# The dashboard and its browser test (issue 5): Node.js and npm (Vite 8 needs
# Node 20.19+), Debian's Chromium driven by playwright-core (no browser
# download), the dashboard built from the committed package-lock.json, and
# the OpenAPI validator from PyPI.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium
python3 -c 'import openapi_spec_validator' >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
(
  cd dashboard
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  npm run build --silent
)

# nextest runs each test in its own process: some tests install a test
# license vendor key, which a process takes once. Installed when missing.
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest || true
if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --workspace --no-fail-fast "$@"
else
  exec cargo test --workspace --no-fail-fast "$@"
fi
