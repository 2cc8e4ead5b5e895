"""deploy/k8s: every overlay renders and validates offline, and the rendered objects keep the properties we rely on."""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")


def _load_validator():
    spec = importlib.util.spec_from_file_location("k8s_validate", K8S / "validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validator = _load_validator()


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=180, cwd=ROOT, env=env, check=False)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    """Every overlay's objects, as `kubectl kustomize` renders them."""
    return {name: validator.render(K8S / "overlays" / name) for name in OVERLAYS}


def objects(rendered, kind: str, name: str | None = None) -> list[tuple[str, dict]]:
    return [
        (overlay, obj)
        for overlay, objs in rendered.items()
        for obj in objs
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]


def one(rendered, overlay: str, kind: str, name: str) -> dict:
    (found,) = [obj for o, obj in objects(rendered, kind, name) if o == overlay]
    return found


def pod_specs(rendered) -> list[tuple[str, str, dict]]:
    """(overlay, kind/name, pod spec) of every workload."""
    return [
        (overlay, f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"])
        for overlay, objs in rendered.items()
        for obj in objs
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def containers(rendered) -> list[tuple[str, str, dict]]:
    return [
        (overlay, f"{where}:{container['name']}", container)
        for overlay, where, spec in pod_specs(rendered)
        for container in spec.get("initContainers", []) + spec["containers"]
    ]


def env_value(rendered, overlay: str, key: str) -> str:
    (config,) = [obj for o, obj in objects(rendered, "ConfigMap") if o == overlay]
    return config["data"][key]


# -- validation ------------------------------------------------------------------------------------------------


def test_every_overlay_renders_and_validates():
    result = run(sys.executable, str(K8S / "validate.py"))
    assert result.returncode == 0, result.stdout + result.stderr
    for overlay in OVERLAYS:
        counts = re.search(
            rf"overlays/{overlay}: (\d+) objects, (\d+) against Kubernetes 1\.32 \(strict\), (\d+) against the CRDs",
            result.stdout,
        )
        total, kubernetes, crd = map(int, counts.groups())
        assert kubernetes > 0 and crd > 0 and kubernetes + crd == total, result.stdout


BROKEN = {
    "deployment without selector": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: aiassistant-api}]
    """,
    "unknown field in a container": """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          containers: [{name: web, image: aiassistant-api, readinessprobe: {}}]
    """,
    "ScaledObject with a string where an integer goes": """
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: worker}
        spec:
          scaleTargetRef: {name: worker}
          maxReplicaCount: "four"
          triggers: [{type: redis, metadata: {listName: celery}}]
    """,
    "ScaledObject with a number in trigger metadata": """
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: worker}
        spec:
          scaleTargetRef: {name: worker}
          triggers: [{type: redis, metadata: {listName: celery, listLength: 8}}]
    """,
    "ScaledObject without triggers": """
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: worker}
        spec:
          scaleTargetRef: {name: worker}
    """,
    "ServiceMonitor with an unknown scheme": """
        apiVersion: monitoring.coreos.com/v1
        kind: ServiceMonitor
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          endpoints: [{port: http, scheme: ftp}]
    """,
    "PrometheusRule with a repeated group name": """
        apiVersion: monitoring.coreos.com/v1
        kind: PrometheusRule
        metadata: {name: rules}
        spec:
          groups: [{name: http, rules: [{record: a, expr: up}]}, {name: http, rules: [{record: b, expr: up}]}]
    """,
    "a kind no schema knows": """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: widget}
    """,
}


@pytest.mark.parametrize("manifest", BROKEN.values(), ids=BROKEN.keys())
def test_validator_rejects_a_broken_manifest(tmp_path, manifest):
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent(manifest))
    result = run(sys.executable, str(K8S / "validate.py"), str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR" in result.stderr


def test_validator_accepts_the_manifest_those_break(tmp_path):
    path = tmp_path / "fine.yaml"
    path.write_text(
        textwrap.dedent("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: aiassistant-api}]
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: worker}
        spec:
          scaleTargetRef: {name: worker}
          maxReplicaCount: 4
          triggers: [{type: redis, metadata: {listName: celery, listLength: "8"}}]
    """)
    )
    result = run(sys.executable, str(K8S / "validate.py"), str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheusrules_are_generated_from_the_rule_files():
    result = run(sys.executable, str(K8S / "generate_prometheusrule.py"), "--check")
    assert result.returncode == 0, result.stderr
    generated = {
        doc["metadata"]["annotations"]["aiassistant/source"]: doc["spec"]["groups"]
        for doc in yaml.safe_load_all((K8S / "base" / "prometheusrule.yaml").read_text())
    }
    rule_files = sorted((ROOT / "deploy" / "monitoring" / "prometheus" / "rules").glob("*.yml"))
    assert generated == {str(p.relative_to(ROOT)): yaml.safe_load(p.read_text())["groups"] for p in rule_files}


def test_generator_check_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text((K8S / "base" / "prometheusrule.yaml").read_text().replace("for: 3m", "for: 4m", 1))
    result = run(sys.executable, str(K8S / "generate_prometheusrule.py"), "--check", "--output", str(stale))
    assert result.returncode == 1
    assert "stale" in result.stderr


# -- properties of the rendered objects ---------------------------------------------------------------------------


def test_every_container_is_locked_down(rendered):
    for overlay, where, container in containers(rendered):
        context = container.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, (overlay, where)
        assert context.get("allowPrivilegeEscalation") is False, (overlay, where)
        assert context.get("readOnlyRootFilesystem") is True, (overlay, where)
        assert context.get("capabilities", {}).get("drop") == ["ALL"], (overlay, where)
        assert context.get("seccompProfile", {}).get("type") == "RuntimeDefault", (overlay, where)


def test_every_pod_runs_as_the_images_non_root_user(rendered):
    for overlay, where, spec in pod_specs(rendered):
        assert spec["securityContext"]["runAsNonRoot"] is True, (overlay, where)
        assert spec["securityContext"]["runAsUser"] == 999, (overlay, where)  # the Dockerfile's system user


def test_every_writable_path_is_an_empty_dir(rendered):
    for overlay, where, spec in pod_specs(rendered):
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for container in spec["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, (overlay, where)
            for name in mounts.values():
                assert "sizeLimit" in volumes[name]["emptyDir"], (overlay, where, name)


def test_long_running_containers_mount_the_prometheus_multiprocess_dir(rendered):
    for overlay, where, container in containers(rendered):
        if where.startswith("Job/"):
            continue  # the migration: /tmp holds it (the app creates /tmp/prometheus)
        mounts = [mount["mountPath"] for mount in container["volumeMounts"]]
        assert env_value(rendered, overlay, "PROMETHEUS_MULTIPROC_DIR") in mounts, (overlay, where)


def test_every_container_has_requests_and_limits(rendered):
    for overlay, where, container in containers(rendered):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), (overlay, where, bound)


def test_web_probes_use_the_health_endpoints(rendered):
    for overlay, deployment in objects(rendered, "Deployment", "aiassistant-web"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live/", overlay
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live/", overlay
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready/", overlay


def test_pods_allow_their_own_address_as_host(rendered):
    """Probes and Prometheus send Host: <pod IP>; production settings answer 400 to a host not allowed."""
    for overlay, where, container in containers(rendered):
        env = {item["name"]: item for item in container.get("env", [])}
        assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP", (overlay, where)
        assert "$(POD_IP)" in env["ALLOWED_HOSTS"]["value"].split(","), (overlay, where)


def test_worker_has_a_liveness_probe_and_soft_shutdown_on_sigterm(rendered):
    for overlay, deployment in objects(rendered, "Deployment", "aiassistant-worker"):
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert container["livenessProbe"]["httpGet"]["port"] == "metrics", overlay
        assert env["REMAP_SIGTERM"] == "SIGQUIT", overlay
        soft = float(env_value(rendered, overlay, "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT"))
        assert spec["terminationGracePeriodSeconds"] >= soft + 10, overlay


def test_web_termination_covers_pre_stop_and_graceful_timeout(rendered):
    for overlay, deployment in objects(rendered, "Deployment", "aiassistant-web"):
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        graceful = int(env_value(rendered, overlay, "GUNICORN_GRACEFUL_TIMEOUT"))
        assert spec["terminationGracePeriodSeconds"] > sleep + graceful, overlay


SECRET_NAME = re.compile(r"SECRET|KEY|TOKEN|PASSWORD")


def test_no_manifest_holds_a_secret_value(rendered):
    for overlay, where, container in containers(rendered):
        for item in container.get("env", []):
            if SECRET_NAME.search(item["name"]):
                assert "value" not in item and "valueFrom" in item, (overlay, where, item["name"])
    for overlay, config in objects(rendered, "ConfigMap"):
        assert not [key for key in config["data"] if SECRET_NAME.search(key)], overlay
    assert not objects(rendered, "Secret")


def test_beat_is_one_replica_that_is_stopped_before_its_successor_starts(rendered):
    for overlay, beat in objects(rendered, "Deployment", "aiassistant-beat"):
        assert beat["spec"]["replicas"] == 1, overlay
        assert beat["spec"]["strategy"] == {"type": "Recreate"}, overlay
    assert not [obj for _, obj in objects(rendered, "HorizontalPodAutoscaler") if "beat" in obj["metadata"]["name"]]


def test_web_and_worker_rollouts_never_reduce_capacity(rendered):
    for name in ("aiassistant-web", "aiassistant-worker"):
        for overlay, deployment in objects(rendered, "Deployment", name):
            assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, (overlay, name)
            assert "replicas" not in deployment["spec"], (overlay, name)  # the autoscaler owns it


def test_migration_job_runs_migrate(rendered):
    for overlay, job in objects(rendered, "Job", "aiassistant-migrate"):
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "manage.py", "migrate", "--no-input"], overlay
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never", overlay


def test_autoscalers_target_the_deployments(rendered):
    for overlay in OVERLAYS:
        hpa = one(rendered, overlay, "HorizontalPodAutoscaler", "aiassistant-web")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "aiassistant-web"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        scaled = one(rendered, overlay, "ScaledObject", "aiassistant-worker")
        assert scaled["spec"]["scaleTargetRef"]["name"] == "aiassistant-worker"
        assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]  # the CRD's CEL rule
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == env_value(rendered, overlay, "WORKFLOW_EXECUTION_QUEUE")
        auth = one(rendered, overlay, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} >= {"address"}


def test_production_has_more_replicas_and_min_available_budgets(rendered):
    def hpa_min(overlay):
        return one(rendered, overlay, "HorizontalPodAutoscaler", "aiassistant-web")["spec"]["minReplicas"]

    def workers_min(overlay):
        return one(rendered, overlay, "ScaledObject", "aiassistant-worker")["spec"]["minReplicaCount"]

    assert hpa_min("production") > hpa_min("staging")
    assert workers_min("production") > workers_min("staging")
    for name in ("aiassistant-web", "aiassistant-worker"):
        budget = one(rendered, "production", "PodDisruptionBudget", name)["spec"]
        assert "minAvailable" in budget and "maxUnavailable" not in budget, name


def test_overlays_differ_in_namespace_environment_and_host(rendered):
    for overlay in OVERLAYS:
        assert {obj["metadata"].get("namespace") for obj in rendered[overlay]} == {f"aiassistant-{overlay}"}
        assert env_value(rendered, overlay, "ENVIRONMENT") == overlay
        ingress = one(rendered, overlay, "Ingress", "aiassistant-web")
        assert ingress["spec"]["rules"][0]["host"] == env_value(rendered, overlay, "API_HOST")


def test_scrape_jobs_are_the_ones_the_rules_select(rendered):
    """prometheus-operator names the job after the Service; the rules select job="aiassistant-web|worker"."""
    rules = (K8S / "base" / "prometheusrule.yaml").read_text()
    for overlay in OVERLAYS:
        for name, port in (("aiassistant-web", "http"), ("aiassistant-worker", "metrics")):
            monitor = one(rendered, overlay, "ServiceMonitor", name)
            service = one(rendered, overlay, "Service", name)
            selector = monitor["spec"]["selector"]["matchLabels"]
            assert selector.items() <= service["metadata"]["labels"].items(), (overlay, name)
            assert monitor["spec"]["endpoints"][0]["port"] == port
            assert name in rules
    web = one(rendered, "production", "ServiceMonitor", "aiassistant-web")["spec"]["endpoints"][0]
    assert web["authorization"]["credentials"] == {"name": "aiassistant-metrics-token", "key": "token"}


def test_network_policies_admit_only_the_ingress_controller_and_prometheus(rendered):
    for overlay in OVERLAYS:
        web = one(rendered, overlay, "NetworkPolicy", "aiassistant-web-ingress")["spec"]["ingress"]
        assert [port["port"] for rule in web for port in rule["ports"]] == [8000]
        peers = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in web for peer in rule["from"]]
        assert peers == ["ingress-nginx", "prometheus"]
        worker = one(rendered, overlay, "NetworkPolicy", "aiassistant-worker-ingress")["spec"]["ingress"]
        assert [port["port"] for rule in worker for port in rule["ports"]] == [9808]
        deny = one(rendered, overlay, "NetworkPolicy", "aiassistant-default-deny")["spec"]
        assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny


# -- the release script ---------------------------------------------------------------------------------------------

FAKE_KUBECTL = """#!/usr/bin/env bash
# Stands in for kubectl: renders with the real one, records every other call, answers the Job's state.
echo "$*" >>"$FAKE_LOG"
case "$1" in
  kustomize) exec "$REAL_KUBECTL" "$@" ;;
  apply) grep '^kind:' "$3" | sort | uniq -c | tr -s ' ' >>"$FAKE_LOG" ;;
  wait)
    case "$*" in
      *condition=$FAKE_JOB_RESULT*) exit 0 ;;
      *) exec sleep 30 ;;
    esac ;;
  get) [ "$FAKE_JOB_RESULT" = complete ] && echo True ;;
  logs) echo "migration failed: relation exists" ;;
esac
exit 0
"""


def release(tmp_path, result: str) -> tuple[subprocess.CompletedProcess, str]:
    fake = tmp_path / "kubectl"
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "KUBECTL": str(fake),
        "REAL_KUBECTL": validator.kubectl(),
        "FAKE_LOG": str(log),
        "FAKE_JOB_RESULT": result,
    }
    completed = run("bash", str(K8S / "release.sh"), "staging", "1.4.2", env=env)
    return completed, log.read_text()


def test_release_applies_the_deployments_only_after_the_migration_job_completed(tmp_path):
    completed, calls = release(tmp_path, "complete")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    applies = [i for i, line in enumerate(calls.splitlines()) if line.startswith("apply")]
    waited = calls.splitlines().index(
        "wait -n aiassistant-staging --for=condition=complete job/aiassistant-migrate-1-4-2 --timeout=15m"
    )
    first, second = applies
    assert first < waited < second
    before = calls.split("\n")[first + 1 : waited]
    assert not [line for line in before if "Deployment" in line] and any("Job" in line for line in before)
    assert "3 kind: Deployment" in calls.split("\n", second + 1)[-1]
    assert calls.count("rollout status") == 3


def test_release_stops_before_the_rollout_when_the_migration_fails(tmp_path):
    completed, calls = release(tmp_path, "failed")
    assert completed.returncode == 1
    assert "migration failed: relation exists" in completed.stderr
    assert len([line for line in calls.splitlines() if line.startswith("apply")]) == 1
    assert "kind: Deployment" not in calls and "rollout status" not in calls


def test_release_render_sets_the_tag_and_a_job_per_release(tmp_path):
    completed = run("bash", str(K8S / "release.sh"), "production", "2.0.0-RC1", "--render")
    assert completed.returncode == 0, completed.stderr
    objs = [obj for obj in yaml.safe_load_all(completed.stdout) if obj]
    images = {
        c["image"]
        for obj in objs
        if "template" in obj.get("spec", {})
        for c in obj["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.com/aiassistant-api:2.0.0-RC1"}
    assert [obj["metadata"]["name"] for obj in objs if obj["kind"] == "Job"] == ["aiassistant-migrate-2-0-0-rc1"]
    counts, errors = validator.validate_objects(objs, "release", validator.load_crds())
    assert not errors
