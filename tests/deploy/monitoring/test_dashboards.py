"""Every PromQL expression of the Grafana dashboards is accepted by a real Prometheus (Debian's binary)."""

import json
import re

import pytest
import yaml

from tests.deploy.monitoring.conftest import MONITORING, Prometheus

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
