"""promtool and amtool on the monitoring configuration: config and rules are valid, and every alert is unit tested."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.monitoring.conftest import MONITORING, REPO, require_binary, run

PROMETHEUS_DIR = MONITORING / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
ALERTS_TEST = PROMETHEUS_DIR / "tests" / "alerts_test.yml"
ALERTMANAGER_YML = MONITORING / "alertmanager" / "alertmanager.yml"
SECRET_TOKEN_PATH = "/run/secrets/metrics_token"


def _alert_rules() -> list[dict]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def _prometheus_copy(tmp_path: Path) -> Path:
    """prometheus/ copied to tmp_path with the token file (a compose secret in production) pointing at a real file."""
    target = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, target)
    token = tmp_path / "metrics_token"
    token.write_text("test-token")
    config = target / "prometheus.yml"
    text = config.read_text()
    assert SECRET_TOKEN_PATH in text
    config.write_text(text.replace(SECRET_TOKEN_PATH, str(token)))
    return target


def test_promtool_check_config_syntax_of_the_committed_file():
    result = run(require_binary("promtool"), "check", "config", "--syntax-only", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config_with_rule_files_and_lint(tmp_path):
    config = _prometheus_copy(tmp_path) / "prometheus.yml"
    result = run(require_binary("promtool"), "check", "config", "--lint=all", "--lint-fatal", str(config))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output


def test_promtool_check_config_fails_on_a_broken_copy(tmp_path):
    config = _prometheus_copy(tmp_path) / "prometheus.yml"
    config.write_text(config.read_text().replace("scrape_interval: 15s", "scrape_interval: fifteen"))
    result = run(require_binary("promtool"), "check", "config", str(config))
    assert result.returncode != 0
    assert "fifteen" in result.stdout + result.stderr


def test_promtool_check_rules():
    result = run(require_binary("promtool"), "check", "rules", "--lint=all", "--lint-fatal", *map(str, RULE_FILES))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("SUCCESS") == len(RULE_FILES)


def test_promtool_check_rules_fails_on_a_broken_copy(tmp_path):
    broken = tmp_path / "alerts.yml"
    text = (PROMETHEUS_DIR / "rules" / "alerts.yml").read_text()
    broken.write_text(text.replace("up{job=~", "up{{job=~", 1))
    result = run(require_binary("promtool"), "check", "rules", str(broken))
    assert result.returncode != 0
    assert "AiassistantTargetDown" in result.stdout + result.stderr


def test_promtool_test_rules_passes():
    result = run(require_binary("promtool"), "test", "rules", str(ALERTS_TEST))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output


def test_promtool_test_rules_fails_when_an_expectation_is_wrong(tmp_path):
    """A copy of the unit tests whose first 'stays silent' case expects an alert must fail: the tests can fail."""
    copy = _prometheus_copy(tmp_path)
    tests_file = copy / "tests" / "alerts_test.yml"
    data = yaml.safe_load(tests_file.read_text())
    silent = next(check for case in data["tests"] for check in case["alert_rule_test"] if check.get("exp_alerts") == [])
    silent["exp_alerts"] = [{"exp_labels": {"severity": "page", "service": "aiassistant-api"}}]
    tests_file.write_text(yaml.safe_dump(data, sort_keys=False))
    result = run(require_binary("promtool"), "test", "rules", str(tests_file))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    checks = [check for case in yaml.safe_load(ALERTS_TEST.read_text())["tests"] for check in case["alert_rule_test"]]
    alerts = {rule["alert"] for rule in _alert_rules()}
    fires = {check["alertname"] for check in checks if check.get("exp_alerts")}
    silent = {check["alertname"] for check in checks if not check.get("exp_alerts")}
    assert len(alerts) >= 12
    assert alerts - fires == set(), "alerts without a firing case"
    assert alerts - silent == set(), "alerts without a silent case"


def test_every_alert_has_severity_and_a_runbook_section():
    doc = (REPO / "docs" / "observability.md").read_text()
    # GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped.
    anchors = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in doc.splitlines()
        if line.startswith("#")
    }
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"docs/observability.md has no section for {rule['alert']}"


def _amtool_config(tmp_path: Path) -> Path:
    """alertmanager.yml with each webhook `url_file` replaced by a `url`.

    Debian bookworm's amtool is 0.25, older than the webhook `url_file` field that the pinned Alertmanager
    (v0.28) reads; everything else is checked as committed.
    """
    text = ALERTMANAGER_YML.read_text()
    assert "url_file:" in text
    replaced = re.sub(r"url_file: /run/secrets/(\S+)", r"url: http://relay.invalid/\1", text)
    path = tmp_path / "alertmanager.yml"
    path.write_text(replaced)
    return path


def test_amtool_check_config(tmp_path):
    result = run(require_binary("amtool"), "check-config", str(_amtool_config(tmp_path)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output
    assert "3 inhibit rules" in output


def test_amtool_check_config_fails_on_an_unknown_receiver(tmp_path):
    path = _amtool_config(tmp_path)
    path.write_text(path.read_text().replace("receiver: page", "receiver: pager"))
    result = run(require_binary("amtool"), "check-config", str(path))
    assert result.returncode != 0
    assert "pager" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=AiassistantBackupStale", "severity=page"], "page"),
        (["alertname=AiassistantHighLatencyP95", "severity=ticket"], "ticket"),
        (["alertname=SomethingNew"], "ticket"),
        (["alertname=Watchdog", "severity=page"], "null"),
    ],
)
def test_alertmanager_routes_by_severity(tmp_path, labels, receiver):
    result = run(
        require_binary("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={_amtool_config(tmp_path)}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver
