#!/usr/bin/env bash
# Make sure the services the test suite needs are here, on a Debian or Ubuntu machine:
#   - PostgreSQL on 127.0.0.1:5432, user `postgres` with trust authentication from 127.0.0.1,
#     and a database `test` (tests/activities/conftest.py creates its own databases from it);
#   - the `docker-compose` binary (tests/test_compose.py runs `docker-compose config`);
#   - Debian's Chromium (/usr/bin/chromium), which the browser tests of the web console drive
#     through Playwright's executable_path, so no browser is ever downloaded.
# Installs what is missing with apt-get, starts what is stopped, and changes nothing that
# already works. Run by `make test` (and so by .ci/run). Needs root, or sudo without a password.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
WAIT_SECONDS=60

say() { printf 'ensure-postgres: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        fail "need root to run: $* (run as root, or allow sudo without a password)"
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || fail "apt-get not found: install $* yourself, then run this again"
    if [ -z "${APT_UPDATED:-}" ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }

cluster_version() { { ls /etc/postgresql 2>/dev/null || true; } | sort -V | tail -n 1; }

wait_until_ready() {
    local waited=0
    until pg_ready; do
        if [ "$waited" -ge "$WAIT_SECONDS" ]; then
            fail "PostgreSQL did not accept connections on $PG_HOST:$PG_PORT within ${WAIT_SECONDS} s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# 1. PostgreSQL installed and running.
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
    if [ -z "$(cluster_version)" ]; then
        say "PostgreSQL is not installed: installing it with apt-get"
        apt_install postgresql
    fi
    version="$(cluster_version)"
    [ -n "$version" ] || fail "PostgreSQL installed but no cluster under /etc/postgresql"
    if ! pg_ready; then
        say "starting PostgreSQL $version (cluster main)"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
    wait_until_ready
fi

# 2. Trust authentication for 127.0.0.1 (a throwaway test server: no password to manage).
psql_postgres() { psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres "$@"; }
if ! psql_postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    version="$(cluster_version)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    [ -f "$hba" ] || fail "cannot connect as postgres@$PG_HOST and $hba is not there to fix"
    say "allowing trust authentication from $PG_HOST in $hba"
    as_root sed -i "1i host all all $PG_HOST/32 trust" "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    sleep 1
    psql_postgres -d postgres -tAc 'select 1' >/dev/null \
        || fail "still cannot connect as postgres@$PG_HOST:$PG_PORT after enabling trust auth"
fi

# 3. The `test` database.
if [ "$(psql_postgres -d postgres -tAc "select 1 from pg_database where datname = 'test'")" != "1" ]; then
    say "creating database test"
    createdb -w -h "$PG_HOST" -p "$PG_PORT" -U postgres test
fi

# 4. docker-compose, for the check of docker-compose.yml.
if ! command -v docker-compose >/dev/null 2>&1; then
    say "docker-compose is not installed: installing it with apt-get"
    apt_install docker-compose
fi

# 5. Chromium, for the browser tests (tests/web/test_browser.py).
if ! command -v chromium >/dev/null 2>&1; then
    say "chromium is not installed: installing it with apt-get"
    apt_install chromium
fi

say "PostgreSQL ready on $PG_HOST:$PG_PORT (user postgres, database test); docker-compose and chromium present"
