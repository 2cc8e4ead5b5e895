"""Secrets from Vault in settings, against the Vault STAND-IN (tests/vault_standin.py: no Vault binary runs here):
production starting from Vault alone, one line when Vault is down, renewal and re-login, one login per process,
dynamic database credentials rotated under load."""

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from django.conf import settings

from common.vault import Vault, VaultConfig
from tests.common.servers import METRICS_TOKEN, Gunicorn
from tests.support import database_url
from tests.vault_standin import VaultStandIn

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("SECRET_KEY", "JWT_SIGNING_KEY", "AUDIT_HMAC_KEY", "SECRETS_ENCRYPTION_KEY", "METRICS_TOKEN")
JWT_KEY = "vault-jwt-signing-key-0123456789abcdefghijklmnop"


def vault_secrets() -> dict:
    return {
        "SECRET_KEY": "vault-secret-key-0123456789abcdefghijklmnopqrstuv",
        "JWT_SIGNING_KEY": JWT_KEY,
        "AUDIT_HMAC_KEY": "vault-audit-key-0123456789abcdefghijklmnopqrstuv",
        "SECRETS_ENCRYPTION_KEY": "dmF1bHQtc2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2Q=",
        "METRICS_TOKEN": METRICS_TOKEN,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }


@pytest.fixture
def standin():
    with VaultStandIn(pg_dsn=database_url(name="postgres")) as vault:
        vault.put_kv("secret", "aiassistant/production", vault_secrets())
        yield vault


def vault_env(standin: VaultStandIn, **extra) -> dict:
    """Production settings whose secrets are nowhere in the environment: only how to reach Vault."""
    return {
        "VAULT_ADDR": standin.url,
        "VAULT_AUTH_METHOD": "approle",
        "VAULT_ROLE_ID": standin.approle["role_id"],
        "VAULT_SECRET_ID": standin.approle["secret_id"],
        **extra,
    }


def without_secrets(server: Gunicorn) -> Gunicorn:
    for name in (*SECRETS, "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        server.env.pop(name, None)
    return server


def manage(env: dict, *args) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in (*SECRETS, "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    base |= {"DJANGO_SETTINGS_MODULE": "config.settings.production", "ALLOWED_HOSTS": "api.example.com"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_production_starts_from_vault_alone_and_signs_jwts_with_vaults_key(standin):
    with without_secrets(Gunicorn(workers=2, **vault_env(standin))) as server:
        status, _, _ = server.request(
            "POST",
            "/api/v1/auth/register/",
            body={"email": "vault@example.com", "password": "Vault-pass-123!", "confirm_password": "Vault-pass-123!"},
        )
        assert status == 201
        status, _, body = server.request(
            "POST", "/api/v1/auth/login/", body={"email": "vault@example.com", "password": "Vault-pass-123!"}
        )
        assert status == 200
        token = json.loads(body)["access_token"]
        claims = jwt.decode(token, JWT_KEY, algorithms=["HS256"], audience="aiassistant-api")
        assert claims["token_type"] == "access"
        # One login per worker process, whatever the number of requests.
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: server.request("GET", "/health/live/")[0], range(200)))
        assert set(codes) == {200}
        assert standin.logins == 2
        assert JWT_KEY not in server.output()


def test_vault_down_with_vault_required_is_one_line_and_exit_1():
    result = manage({"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t", "VAULT_REQUIRED": "true"}, "check")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: Vault at http://127.0.0.1:9")
    assert "aiassistant/production" in lines[0] and "Traceback" not in result.stderr


def test_a_missing_secret_path_is_one_line_naming_it(standin):
    result = manage(vault_env(standin, VAULT_SECRETS_PATH="aiassistant/nowhere"), "check")
    assert result.returncode == 1
    assert "no secret at secret/aiassistant/nowhere" in result.stderr.strip().splitlines()[-1]


def test_a_refused_login_is_one_line_without_the_secret_id(standin):
    result = manage(vault_env(standin, VAULT_SECRET_ID="wrong-secret-id-0123"), "check")
    assert result.returncode == 1
    assert "approle login failed" in result.stderr and "wrong-secret-id-0123" not in result.stderr


def test_without_vault_required_the_environment_is_used_with_a_warning():
    env = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t", "VAULT_REQUIRED": "false"}
    env |= dict.fromkeys(
        ("SECRET_KEY", "JWT_SIGNING_KEY", "AUDIT_HMAC_KEY"), "env-value-0123456789abcdefghijklmnopqrstuvwxyz"
    )
    env |= {"SECRETS_ENCRYPTION_KEY": vault_secrets()["SECRETS_ENCRYPTION_KEY"], "DATABASE_URL": database_url()}
    env |= {"REDIS_URL": "redis://127.0.0.1:6379/0", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: Vault at http://127.0.0.1:9")


def test_vault_check_names_each_source_and_never_a_value(standin):
    result = manage(vault_env(standin), "vault_check")
    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY               vault" in result.stdout
    assert "LLM_API_KEY              -" in result.stdout
    assert "policies aiassistant" in result.stdout
    assert not [value for value in vault_secrets().values() if value in result.stdout]


def test_vault_check_exits_1_when_a_secret_production_requires_is_missing(standin):
    """Run where production itself would refuse to start (local settings, the production path in Vault)."""
    data = vault_secrets()
    del data["REDIS_URL"]
    standin.put_kv("secret", "aiassistant/production", data)
    env = vault_env(
        standin, DJANGO_SETTINGS_MODULE="config.settings.local", VAULT_SECRETS_PATH="aiassistant/production"
    )
    result = manage(env, "vault_check")
    assert result.returncode == 1
    assert "required secret(s) missing: REDIS_URL" in result.stderr


def test_the_token_is_renewed_at_half_its_ttl_and_logged_in_again_when_refused():
    with VaultStandIn(token_ttl=2) as standin:
        client = Vault(
            VaultConfig(
                addr=standin.url,
                auth_method="approle",
                role_id=standin.approle["role_id"],
                secret_id=standin.approle["secret_id"],
            )
        )
        client.login()
        client.ensure_renewal()
        time.sleep(2.6)  # one renewal at 1 s, another at 2 s
        assert standin.renewals >= 2 and standin.logins == 1
        standin.refuse_renewal = True
        time.sleep(1.2)
        assert standin.logins >= 2  # renewal refused: logged in again
        assert client.token_info()["ttl"] > 0


def test_values_read_from_vault_are_redacted_from_log_lines(standin, capsys):
    from common import redaction

    redaction.learn(["a-value-only-vault-knows-0123456789"])
    assert redaction.for_logs().text("leaked a-value-only-vault-knows-0123456789") == "leaked [redacted]"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_dynamic_database_credentials_rotate_under_load_and_no_request_fails(standin):
    standin.db_roles["aiassistant"] = 6  # a short lease: rotation every 2 s
    extra = vault_env(standin, VAULT_DB_ROLE="aiassistant", DB_POOL_MAX_LIFETIME="60")
    with without_secrets(Gunicorn(workers=2, **extra)) as server:
        failures, codes, stop = [], [], threading.Event()

        def load():
            while not stop.is_set():
                try:
                    codes.append(server.request("GET", "/health/ready/")[0])
                except OSError as exc:
                    failures.append(exc)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(9)
        stop.set()
        for thread in threads:
            thread.join()
        roles = len(standin.leases)
    standin.drop_database_roles()
    assert not failures
    assert codes and set(codes) == {200}, {code for code in codes if code != 200}
    assert roles >= 6  # 2 workers x (the first credentials + at least 2 rotations)


def test_kubernetes_login_reads_the_service_account_token_file(tmp_path):
    with VaultStandIn() as standin:
        token_file = tmp_path / "token"
        token_file.write_text("service-account-jwt\n")
        standin.k8s_roles["aiassistant"] = "service-account-jwt"
        standin.put_kv("secret", "aiassistant/production", {"SECRET_KEY": "k8s-secret-0123456789"})
        client = Vault(VaultConfig(addr=standin.url, auth_method="kubernetes", k8s_role="aiassistant",
                                   k8s_token_path=str(token_file)))  # fmt: skip
        assert client.read_kv(mount="secret", path="aiassistant/production") == {"SECRET_KEY": "k8s-secret-0123456789"}
        assert standin.logins == 1


def test_token_auth_uses_the_given_token_and_never_logs_in():
    with VaultStandIn() as standin:
        standin.put_kv("secret", "p", {"A": "b"})
        client = Vault(VaultConfig(addr=standin.url, auth_method="token", token=standin.issue_token()))
        assert client.read_kv(mount="secret", path="p") == {"A": "b"}
        assert standin.logins == 0
