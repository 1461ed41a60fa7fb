#!/bin/sh
# Container entry point: apply migrations (unless DJANGO_MIGRATE_ON_START=0, e.g. when a release
# job migrates before the rollout), then run the command (python -m delight.serve by default).
#
# Every replica runs this on start; the migrate command takes a PostgreSQL advisory lock
# (delight/management/commands/migrate.py), so replicas starting together wait for one another
# and the later ones find nothing to do. That lock lives in a database session: behind a
# transaction-mode pooler (PgBouncer), point MIGRATE_DATABASE_URL at PostgreSQL itself.
set -eu

if [ "${DJANGO_MIGRATE_ON_START:-1}" = "1" ]; then
    DATABASE_URL="${MIGRATE_DATABASE_URL:-${DATABASE_URL:-}}" python manage.py migrate --noinput
fi

exec "$@"
