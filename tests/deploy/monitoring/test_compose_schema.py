"""The compose files pass the compose-spec JSON schema, and the monitoring stack publishes the agreed ports."""

import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.monitoring.conftest import MONITORING, REPO, run

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
MONITORING_COMPOSE = MONITORING / "docker-compose.monitoring.yml"
COMPOSE_FILES = [MONITORING_COMPOSE] + [path for path in [REPO / "docker-compose.yml"] if path.exists()]


def _check(path: Path):
    if not CHECK_JSONSCHEMA.exists():
        pytest.fail("check-jsonschema is missing: install requirements/dev.txt")
    return run(str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path))


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_compose_file_matches_compose_spec(path):
    result = _check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_compose_spec_check_fails_on_a_broken_copy(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(MONITORING_COMPOSE.read_text().replace("restart: unless-stopped", "restart: [sometimes]", 1))
    result = _check(broken)
    assert result.returncode != 0
    assert "restart" in result.stdout + result.stderr


def _services() -> dict:
    return yaml.safe_load(MONITORING_COMPOSE.read_text())["services"]


def test_monitoring_stack_publishes_the_agreed_host_ports():
    published = {service: data.get("ports", []) for service, data in _services().items()}
    assert "3001:3000" in published["grafana"]
    assert "9090:9090" in published["prometheus"]
    assert "9093:9093" in published["alertmanager"]
    assert "3100:3100" in published["loki"]


def test_every_image_is_pinned_to_a_version():
    for service, data in _services().items():
        name, _, tag = data["image"].rpartition(":")
        assert name, f"{service}: image without a tag"
        assert tag not in {"latest", "main", ""} and any(ch.isdigit() for ch in tag), f"{service}: {data['image']}"


def test_every_mounted_config_file_exists_in_the_repository():
    for service, data in _services().items():
        for volume in data.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (MONITORING / source).exists(), f"{service} mounts missing {source}"
