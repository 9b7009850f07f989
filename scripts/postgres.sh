#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages if missing, starts its cluster on loopback and makes
# a `baton` login role. Prints the URL the tests use (export it as BATON_TEST_POSTGRES).
# Usage: export BATON_TEST_POSTGRES="$(scripts/postgres.sh)"
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters -h | head -1)
if [ "$STATUS" != "online" ]; then
  $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
for _ in $(seq 1 50); do
  if su postgres -c "psql -p $PORT -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
su postgres -c "psql -p $PORT -qAt" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton') THEN
    CREATE ROLE baton LOGIN CREATEDB PASSWORD 'baton';
  END IF;
END \$\$;
SQL
echo "postgres://baton:baton@127.0.0.1:$PORT/postgres"
