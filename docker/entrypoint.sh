#!/bin/sh
# Container entry point: apply migrations (unless DJANGO_MIGRATE_ON_START=0, e.g. when a release
# job migrates before the rollout), then run the command (gunicorn by default).
set -eu

if [ "${DJANGO_MIGRATE_ON_START:-1}" = "1" ]; then
    python manage.py migrate --noinput
fi

exec "$@"
