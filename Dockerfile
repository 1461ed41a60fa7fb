# The goals service, served by python -m delight.serve (granian) behind nginx (docker-compose.yml).
# Build: docker build -t delight-goals .
#
# Two stages: "build" installs the hash-locked dependencies and collects the static files;
# "runtime" is a fresh slim image with only the virtualenv, the application code and the
# collected static files: no uv, no build caches, no tests, no compilers (the slim base has
# none, and nothing here installs one: every dependency is a wheel).

# Python 3.11 on Debian 12, pinned to a patch release (bump deliberately, with the lock).
FROM python:3.11.11-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes reuse this layer. The image's pip installs only the pinned,
# hash-checked uv; uv installs exactly the production lock into /opt/venv (nothing resolved,
# every hash checked) and check_install.py proves the environment is the lock (see Makefile).
COPY requirements/uv.txt requirements/prod.txt requirements/
COPY scripts/check_install.py scripts/
RUN pip install --no-cache-dir --no-deps --only-binary :all: --require-hashes -r requirements/uv.txt \
    && python -m venv /opt/venv \
    && uv pip sync --no-cache --require-hashes --strict --python /opt/venv/bin/python requirements/prod.txt \
    && /opt/venv/bin/python scripts/check_install.py requirements/prod.txt

# The application only (tests/, docs/, scripts/ stay out of the image).
COPY manage.py ./
COPY delight delight
COPY accounts accounts
COPY goals goals
COPY docker/entrypoint.sh docker/entrypoint.sh

# Settings refuse to load without production secrets; collectstatic needs none of them for real
# (a JWKS URL is not fetched until a token comes; a CLERK_JWT_KEY would have to be a real key).
RUN DJANGO_SECRET_KEY=collectstatic CLERK_JWKS_URL=https://collectstatic.invalid/jwks.json \
    DATABASE_URL=postgresql://build/none \
    /opt/venv/bin/python manage.py collectstatic --noinput \
    && find /app /opt/venv -name __pycache__ -prune -exec rm -rf {} +


FROM python:3.11.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000 \
    DJANGO_LOG_FORMAT=json

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

USER app
EXPOSE 8000 9102
# Liveness: the process answers (no database call, so a database outage does not restart it;
# docker-compose.yml waits for /readyz before sending traffic).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"

ENTRYPOINT ["./docker/entrypoint.sh"]
# The production server with every protective setting (delight/serve.py; README "Deployment"):
# granian on 0.0.0.0:$PORT, WEB_CONCURRENCY workers of WEB_THREADS threads, metrics on
# METRICS_PORT. It stops gracefully on SIGTERM within WEB_GRACEFUL_TIMEOUT (20 s): give the
# container longer than that to stop (compose: stop_grace_period).
CMD ["python", "-m", "delight.serve"]
