# The goals service, served by gunicorn. Build: docker build -t delight-goals .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

# Dependencies first, from the hash-locked production list, so code changes reuse this layer.
COPY requirements/prod.txt requirements/prod.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/prod.txt

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
