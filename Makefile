# The README's two commands: `make run` (embedded default, no servers) and `make test` (real PostgreSQL + Redis).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint check services system-deps bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt requirements/production.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

run: $(VENV)/.base-installed
	@mkdir -p var
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate --no-input
	@echo ""
	@echo "  aiassistant-api on http://$(HOST):$(PORT)/  (that page links the docs, admin and health)"
	@echo "  Embedded default: SQLite in var/, no external server"
	@echo "  API docs:  http://$(HOST):$(PORT)/api/v2/docs/   (ReDoc: /api/v2/redoc/; v1: /api/v1/docs/)"
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/"
	@echo "  Create an admin user:  $(PY) manage.py createsuperuser"
	@echo "  Worker:    Celery (filesystem broker in var/celery/, 2 processes), log in var/log/worker.log"
	@echo ""
	@# The worker runs executions in its own processes; it stops when runserver exits (Ctrl-C included).
	@mkdir -p var/log var/celery
	@DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/celery -A config worker --pool=prefork --concurrency=2 \
		--loglevel=INFO >>var/log/worker.log 2>&1 & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py runserver $(HOST):$(PORT)

system-deps:
	@bash deploy/scripts/system-deps.sh

services:
	@bash deploy/scripts/ensure-services.sh

# Services, selectors and the shared helpers are type-checked (mypy with django-stubs).
MYPY_PATHS := accounts/services.py projects/services.py projects/selectors.py projects/permissions.py \
	common/exceptions.py common/http.py common/throttling.py common/api.py common/pagination.py common/migration_operations.py \
	common/metrics.py common/metrics_view.py common/logging.py common/middleware.py common/health.py common/tracing.py \
	common/celery_observability.py common/redaction.py common/errors.py common/openapi.py common/conditional.py common/read_cache.py common/api_versions/ common/services.py common/prometheus_dir.py common/vault.py common/encryption.py common/db_credentials.py common/shutdown.py common/db/ config/secrets.py \
	accounts/tokens.py accounts/lockout.py accounts/admin_site.py accounts/verification.py common/mail.py workflows/services.py workflows/selectors.py workflows/runner.py workflows/attempts.py workflows/records.py \
	workflows/steps/transport.py workflows/templating/isolation.py workflows/templating/child.py workflows/templating/limits.py \
	workflows/templating/checks.py ops/services/ ops/engines/ ops/selectors.py ops/restore_hooks.py \
	accounts/gdpr/ accounts/selectors.py accounts/sso/ projects/gdpr.py workflows/gdpr.py \
	audit/ common/grants.py common/permissions.py accounts/credentials.py identity/services.py identity/selectors.py \
	identity/authentication.py identity/oauth.py identity/gdpr.py

# `check --deploy` on the production settings, with the environment a production deploy needs (dummy values: the
# check connects to nothing). Warnings fail; a silenced check is justified in docs/security.md.
DEPLOY_CHECK_ENV := DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY=lint-only-a-long-random-looking-value-for-the-deploy-check-0123456789abcdef \
	JWT_SIGNING_KEY=lint-only-another-long-random-value-for-the-jwt-key-0123456789abcdef \
	AUDIT_HMAC_KEY=lint-only-a-third-long-random-value-for-the-audit-chain-0123456789 \
	SECRETS_ENCRYPTION_KEY=bGludC1vbmx5LXNlY3JldHMtZW5jcnlwdGlvbi1rZXk= \
	DATABASE_URL=postgres://lint@127.0.0.1:5432/aiassistant REDIS_URL=redis://127.0.0.1:6379/0 \
	CELERY_BROKER_URL=redis://127.0.0.1:6379/1 ALLOWED_HOSTS=api.example.com \
	BACKUP_STORAGE=s3 AWS_STORAGE_BUCKET_NAME=aiassistant-backups VAULT_ADDR=

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Security lint: medium severity and up fails (configuration in pyproject.toml's [tool.bandit]).
	$(BIN)/bandit -c pyproject.toml -r . --severity-level medium --quiet
	env $(DEPLOY_CHECK_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/mypy $(MYPY_PATHS)
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py check
	@# Our migrations stay backward compatible (the previous release runs while they apply): django-migration-linter
	@# on the PostgreSQL SQL that production runs. It reads the applied state (only reads), so it needs the server
	@# `make services` starts. pyproject.toml's [tool.django_migration_linter] lists each ignored one and why.
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
		$(PY) manage.py lintmigrations -q ok ignore
	@# Kubernetes manifests, offline: the PrometheusRules match the rule files, every overlay renders and validates.
	$(PY) deploy/k8s/generate_prometheusrule.py --check
	$(PY) deploy/k8s/validate.py

test: system-deps services lint
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest --cov --cov-report=term --cov-report=xml --create-db $(PYTEST_ARGS)

# Benchmarks (not tests): each prints its figures and writes bench/results/<name>.json. See bench/README.md.
bench: $(VENV)/.dev-installed system-deps services
	$(PY) bench/baseline.py
	$(PY) bench/observability.py
	$(PY) bench/api_versions.py
	$(PY) bench/executions.py
	$(PY) bench/backup.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) var .coverage coverage.xml .pytest_cache .ruff_cache
