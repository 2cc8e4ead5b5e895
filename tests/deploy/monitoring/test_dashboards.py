"""Every PromQL expression of the Grafana dashboards is accepted by a real Prometheus (Debian's binary)."""

import json
import re

import pytest
import yaml

from tests.deploy.monitoring.conftest import MONITORING, Prometheus, require_binary, run

pytestmark = pytest.mark.slow  # starts a real Prometheus

DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "datasources.yml"

# Grafana's built-in variables, replaced by what Grafana would send for a 6-hour view with 15 s scrapes.
BUILTINS = {"__rate_interval": "1m", "__interval": "30s", "__range": "6h", "__range_s": "21600", "__auto": "1m"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?(\w+)\)$")


def _panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def _datasource_type(panel: dict, target: dict) -> str:
    return (target.get("datasource") or panel.get("datasource") or {"type": "prometheus"})["type"]


def _substitute(expr: str, variables: dict) -> str:
    def replace(match):
        name = match.group(1) or match.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in variables:
            return variables[name]
        raise AssertionError(f"unknown Grafana variable ${name} in {expr!r}")

    return VARIABLE.sub(replace, expr)


def _variables(dashboard: dict) -> dict:
    """Each template variable's 'All' value (a regex), as Grafana substitutes it."""
    return {var["name"]: var.get("allValue") or ".*" for var in dashboard.get("templating", {}).get("list", [])}


def _collect(kind: str):
    """(id, expr) pairs of one datasource type from every dashboard, with variables substituted."""
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        variables = _variables(dashboard)
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                if _datasource_type(panel, target) == kind and target.get("expr"):
                    found.append((f"{path.stem}:{panel['title']}:{target['refId']}", target["expr"], variables))
        if kind == "prometheus":
            for var in dashboard.get("templating", {}).get("list", []):
                if var["type"] == "query":
                    query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
                    match = LABEL_VALUES.match(query)
                    assert match, f"{path.stem}: variable {var['name']} is not label_values(...): {query}"
                    found.append((f"{path.stem}:variable {var['name']}", match.group(1) or "up", variables))
    return found


PROMQL = _collect("prometheus")
LOGQL = _collect("loki")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus-dashboards")
    config = {"global": {"scrape_interval": "15s"}, "scrape_configs": []}
    server = Prometheus(workdir, yaml.safe_dump(config))
    yield server
    server.stop()


def test_dashboards_exist_and_have_unique_uids():
    assert {path.stem for path in DASHBOARDS} >= {"api", "workflows", "operations"}
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))
    assert len(PROMQL) >= 40


def test_dashboards_use_only_provisioned_datasources():
    provisioned = {ds["uid"]: ds["type"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    for path in DASHBOARDS:
        for panel in _panels(json.loads(path.read_text())):
            for source in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
                if source and panel["type"] != "row":
                    assert provisioned.get(source["uid"]) == source["type"], f"{path.stem}: {panel['title']}"


def test_operations_dashboard_has_a_loki_log_panel():
    panels = list(_panels(json.loads((MONITORING / "grafana" / "dashboards" / "operations.json").read_text())))
    assert any(p["type"] == "logs" and p["datasource"]["type"] == "loki" for p in panels)


@pytest.mark.parametrize(("name", "expr"), [(name, expr) for name, expr, _ in LOGQL], ids=[n for n, _, _ in LOGQL])
def test_loki_queries_select_labels_that_alloy_sets(name, expr):
    """No Loki binary here: check that the stream selectors only use labels the Alloy pipeline attaches."""
    shipped = {"service", "level", "container", "compose_service", "compose_project"}
    selector = re.search(r"\{(.*?)\}", expr).group(1)
    labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
    assert labels, expr
    assert labels <= shipped, f"{name}: {labels - shipped}"


@pytest.mark.parametrize(("name", "expr", "variables"), PROMQL, ids=[name for name, _, _ in PROMQL])
def test_promql_expression_is_accepted_by_prometheus(prometheus, name, expr, variables):
    concrete = _substitute(expr, variables)
    assert "$" not in concrete
    answer = prometheus.query(concrete)
    assert answer["status"] == "success", f"{name}: {concrete}\n{answer}"
    assert answer["http_status"] == 200


def test_prometheus_rejects_a_broken_expression(prometheus):
    """The check above can fail: a malformed expression comes back as an error."""
    answer = prometheus.query("sum by (view) (rate(django_http_requests_total_by_view_transport_method_total[1m])")
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"


def test_substitution_replaces_builtins_and_variables():
    assert (
        _substitute('rate(x{view=~"$route"}[$__rate_interval]) ${route:regex}', {"route": ".*"})
        == 'rate(x{view=~".*"}[1m]) .*'
    )


# --- The API versions panels, evaluated by promtool on series labelled like the middleware labels them ----------

RESPONSES = "django_http_responses_total_by_status_view_method_total"
# (view, api_version, requests/s): twelve v1 routes at distinct rates (integers: promtool compares floats exactly),
# one v2 route, and a health probe outside /api/ (no api_version: Prometheus drops an empty label) that is
# busier than all of them. The two least busy v1 routes fall outside the top 10.
V1_ROUTES = [(f"v1:route-{n:02d}", "1", n + 1) for n in range(11)] + [("api:project-list", "1", 13)]
TRAFFIC = [*V1_ROUTES, ("v2:project-list", "2", 4), ("health-live", "", 100)]
STEP_SECONDS = 30


def _target_expr(dashboard: dict, title: str) -> str:
    panel = next(panel for panel in _panels(dashboard) if panel["title"] == title)
    (target,) = panel["targets"]
    return _substitute(target["expr"], _variables(dashboard))


def _promtool_case(exprs: dict[str, list[dict]]) -> dict:
    """One promtool test: TRAFFIC as counters over 6 h (the $__range of BUILTINS), each expr's expected samples."""
    steps = 6 * 3600 // STEP_SECONDS + 10
    series = []
    for view, version, rate in TRAFFIC:
        labels = f'job="aiassistant-web", instance="web:8000", view="{view}", method="GET", status="200"'
        if version:
            labels += f', api_version="{version}"'
        series.append({"series": f"{RESPONSES}{{{labels}}}", "values": f"0+{rate * STEP_SECONDS}x{steps}"})
    checks = [{"expr": expr, "eval_time": "6h", "exp_samples": samples} for expr, samples in exprs.items()]
    return {
        "name": "API versions panels",
        "interval": f"{STEP_SECONDS}s",
        "input_series": series,
        "promql_expr_test": checks,
    }


def test_api_versions_panels_count_api_requests_by_version_and_rank_v1_routes(tmp_path):
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "api.json").read_text())
    v1_total = sum(rate for _, version, rate in TRAFFIC if version == "1")
    busiest = sorted(V1_ROUTES, key=lambda route: -route[2])[:10]
    exprs = {
        _target_expr(dashboard, "API traffic by version"): [
            {"labels": '{api_version="1"}', "value": v1_total},
            {"labels": '{api_version="2"}', "value": 4},
        ],
        _target_expr(dashboard, "Busiest v1 routes"): [
            {"labels": f'{{view="{view}"}}', "value": rate} for view, _, rate in busiest
        ],
        _target_expr(dashboard, "v1 share of API requests (range)"): [
            {"labels": "{}", "value": v1_total / (v1_total + 4)}
        ],
    }
    tests_file = tmp_path / "panels_test.yml"
    tests_file.write_text(yaml.safe_dump({"evaluation_interval": "1m", "tests": [_promtool_case(exprs)]}))

    result = run(require_binary("promtool"), "test", "rules", str(tests_file))

    assert result.returncode == 0, result.stdout + result.stderr
