# syntax=docker/dockerfile:1
# Multi-stage: build wheels with compilers, run on a slim image as a non-root user.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY requirements/ /tmp/requirements/
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements/production.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# postgresql-client: pg_dump / pg_restore for the backup commands.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 999 app && useradd --system --uid 999 --gid app --home /app --shell /usr/sbin/nologin app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=app:app . /app
RUN SECRET_KEY=build JWT_SIGNING_KEY=build AUDIT_HMAC_KEY=build SECRETS_ENCRYPTION_KEY=YnVpbGQtb25seS1rZXktbm90LXVzZWQtMDEyMzQ1Njc= DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost CELERY_BROKER_URL=redis://localhost ALLOWED_HOSTS=build \
    python manage.py collectstatic --no-input \
    && mkdir -p /app/var /tmp/prometheus && chown -R app:app /app/var /tmp/prometheus
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live/', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
