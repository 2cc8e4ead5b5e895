"""The repeatable audit's static half: bandit and `check --deploy` in make lint, pip-audit in CI (docs/security.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BANDIT = str(Path(sys.executable).with_name("bandit"))
BANDIT_ARGS = ["-c", str(ROOT / "pyproject.toml"), "--severity-level", "medium", "--quiet"]


def bandit(*targets: str) -> subprocess.CompletedProcess:
    return subprocess.run([BANDIT, *BANDIT_ARGS, "-r", *targets], cwd=ROOT, capture_output=True, text=True, timeout=120)


def deploy_check(**overrides: str) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level WARNING` with the production environment make lint gives it."""
    makefile = (ROOT / "Makefile").read_text()
    block = re.search(r"^DEPLOY_CHECK_ENV := (.*?)\n\n", makefile, flags=re.M | re.S)
    assert block, "the Makefile defines DEPLOY_CHECK_ENV"
    pairs = dict(item.split("=", 1) for item in block.group(1).replace("\\\n", " ").split())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")} | pairs | overrides
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_lint_runs_bandit_and_the_deploy_check():
    lint = re.search(r"^lint:.*?(?=^\S)", (ROOT / "Makefile").read_text(), flags=re.M | re.S).group(0)
    assert "bandit -c pyproject.toml -r . --severity-level medium" in lint
    assert "$(DEPLOY_CHECK_ENV) $(PY) manage.py check --deploy --fail-level WARNING" in lint


def test_bandit_finds_nothing_of_medium_severity_or_more():
    result = bandit(".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bandit_fails_on_a_medium_finding(tmp_path):
    # A copy outside tests/ (excluded): bandit must flag it under the project's own configuration.
    scanned = tmp_path / "app"
    scanned.mkdir()
    (scanned / "unsafe.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    result = bandit(str(scanned))
    assert result.returncode == 1
    assert "B602" in result.stdout


def test_bandit_skips_tests_only():
    config = (ROOT / "pyproject.toml").read_text()
    excluded = re.search(r"^\[tool\.bandit\]\nexclude_dirs = \[(.*?)\]", config, flags=re.M).group(1)
    assert {name.strip(' "') for name in excluded.split(",")} == {"tests", "bench", ".venv", "node_modules"}


def test_deploy_check_is_clean_on_production_settings():
    result = deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_deploy_check_fails_on_a_warning():
    result = deploy_check(SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_ci_runs_pip_audit_in_its_own_job():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    audit = workflow["jobs"]["dependency-audit"]
    commands = "\n".join(step.get("run", "") for step in audit["steps"])
    assert re.search(r"pip install pip-audit==2\.\d+\.\d+", commands)
    assert "pip-audit --strict" in commands
    assert "-r requirements/production.txt -r requirements/dev.txt" in commands
    assert "dependency-audit" in workflow["jobs"]["test"]["needs"]
    assert "pip-audit" not in (ROOT / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]
