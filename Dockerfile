# The goals service, served by gunicorn. Build: docker build -t delight-goals .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

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
ENV PATH=/opt/venv/bin:$PATH

COPY . .

# Settings refuse to load without production secrets; collectstatic needs none of them for real.
RUN DJANGO_SECRET_KEY=collectstatic CLERK_JWT_KEY=collectstatic DATABASE_URL=postgresql://build/none \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --no-create-home app

USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"

ENTRYPOINT ["./docker/entrypoint.sh"]
CMD ["gunicorn", "delight.wsgi:application", "--config", "gunicorn.conf.py"]
