"""infra/monitoring/: the Prometheus, Alertmanager and Grafana configuration, checked by the tools
that run it (promtool, amtool) and against the metrics the app really exports.

promtool and amtool come from Debian's `prometheus` and `prometheus-alertmanager` packages
(scripts/bootstrap installs them); without them these tests fail, they never skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric
from psycopg_pool import ConnectionPool

from shared.metrics import REGISTRY, DatabaseGauges

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infra" / "monitoring"
PROMETHEUS_CONFIGS = ("prometheus.yml", "prometheus.local.yml")
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "alerts.test.yml"
ALERTMANAGER = MONITORING / "alertmanager.yml"
DASHBOARD = MONITORING / "grafana" / "invoices-overview.json"
README = MONITORING / "README.md"

# Labels a scrape attaches to every series of a target.
TARGET_LABELS = frozenset({"job", "instance"})
# The one series Prometheus adds to every target itself (1 when the scrape worked); every other
# name in a query must be one that shared/metrics.py exports.
PROMETHEUS_SERIES = {"up": TARGET_LABELS}
SEVERITIES = {"critical", "warning"}


# --- the tools ------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run scripts/bootstrap, or as root "
            "`apt-get install --no-install-recommends prometheus prometheus-alertmanager`"
        )
    return path


def _run(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    """Run a tool; fail the test with everything it said when it does not exit 0."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return result


def test_prometheus_configs_and_the_rules_they_load_are_valid(tmp_path: Path) -> None:
    # promtool also checks that the scrape token file exists: give a copy one.
    copy = tmp_path / "monitoring"
    shutil.copytree(MONITORING, copy, ignore=shutil.ignore_patterns("secrets"))
    (copy / "secrets").mkdir()
    (copy / "secrets" / "metrics-token").write_text("test-scrape-token\n")
    for config in PROMETHEUS_CONFIGS:
        output = _run(_tool("promtool"), "check", "config", config, cwd=copy).stdout
        assert f"SUCCESS: {config} is valid prometheus config file syntax" in output, output
        assert re.search(r"SUCCESS: [1-9]\d* rules found", output), output


def test_alert_rules_are_valid() -> None:
    output = _run(_tool("promtool"), "check", "rules", ALERTS.name).stdout
    assert f"SUCCESS: {len(_rules())} rules found" in output, output


def test_alert_rules_pass_their_unit_tests() -> None:
    output = _run(_tool("promtool"), "test", "rules", ALERT_TESTS.name).stdout
    assert "SUCCESS" in output, output


def test_alertmanager_config_is_valid() -> None:
    output = _run(_tool("amtool"), "check-config", ALERTMANAGER.name).stdout
    assert "SUCCESS" in output, output


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical"], "incident-webhook,oncall-email-and-slack"),
        (["severity=warning"], "incident-webhook,team-slack"),
        (["severity=info"], "incident-webhook"),
    ],
)
def test_alertmanager_routes_alerts_by_severity(labels: list[str], receivers: str) -> None:
    output = _run(
        _tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER.name}",
        "alertname=InvoicesHttpErrors", *labels,
    ).stdout  # fmt: skip
    assert output.strip() == receivers, output


# --- alert rules ----------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def _alert_cases() -> list[dict[str, Any]]:
    return [case for test in _load_yaml(ALERT_TESTS)["tests"] for case in test["alert_rule_test"]]


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook() -> None:
    anchors = {
        "#" + re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", README.read_text(), re.MULTILINE)
    }
    for rule in _rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        path, _, anchor = annotations["runbook"].partition("#")
        assert path == "infra/monitoring/README.md", name
        assert f"#{anchor}" in anchors, f"{name}: README.md has no section #{anchor}"


def test_every_alert_fires_in_a_unit_test_and_stays_silent_in_another() -> None:
    fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for case in _alert_cases()
        for alert in case.get("exp_alerts") or []
    }
    silent = {case["alertname"] for case in _alert_cases() if not case.get("exp_alerts")}
    for rule in _rules():
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert (name, severity) in fired, f"no unit test fires {name} ({severity})"
        assert name in silent, f"no unit test shows {name} silent"


def test_the_scrape_alerts_cover_every_scrape_job() -> None:
    jobs = [
        scrape["job_name"]
        for config in PROMETHEUS_CONFIGS
        for scrape in _load_yaml(MONITORING / config)["scrape_configs"]
    ]
    patterns = {
        pattern for rule in _rules() for pattern in re.findall(r'\bjob=~"([^"]+)"', rule["expr"])
    }
    assert patterns, "the alerts select no job"
    for pattern in patterns:
        for job in jobs:
            assert re.fullmatch(pattern, job), f"job=~{pattern!r} misses scrape job {job}"


# --- alertmanager ---------------------------------------------------------------------------


def test_alertmanager_inhibits_a_warning_while_the_same_alert_is_critical() -> None:
    rules = _load_yaml(ALERTMANAGER)["inhibit_rules"]
    assert any(
        rule["source_matchers"] == ['severity="critical"']
        and rule["target_matchers"] == ['severity="warning"']
        and "alertname" in rule["equal"]
        for rule in rules
    ), rules


def test_alertmanager_config_holds_example_addresses_and_no_secret() -> None:
    text = ALERTMANAGER.read_text()
    config = _load_yaml(ALERTMANAGER)

    def keys(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    inline_secrets = {
        "slack_api_url", "api_url", "smtp_auth_password", "auth_password", "auth_secret",
        "password", "bearer_token", "credentials", "api_key", "routing_key", "service_key",
    }  # fmt: skip
    assert not inline_secrets & set(keys(config)), "a secret sits in alertmanager.yml"
    assert config["global"]["slack_api_url_file"].startswith("/")
    assert config["global"]["smtp_auth_password_file"].startswith("/")
    for address in re.findall(r"[\w.+-]+@[\w.-]+", text):
        assert address.endswith("@example.com"), address
    hosts = re.findall(r"https?://([^/:\s'\"]+)", text)
    hosts.append(config["global"]["smtp_smarthost"].rpartition(":")[0])
    for host in hosts:
        assert host == "example.com" or host.endswith(".example.com"), host


# --- the Grafana dashboard ------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard_queries() -> list[str]:
    dashboard = _dashboard()
    queries = [
        target["expr"]
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def test_dashboard_is_a_complete_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert dashboard["title"] and dashboard["uid"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"

    panels = list(_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        title, grid = panel["title"], panel["gridPos"]
        assert title, panel["id"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, title
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{title} overlaps {cells[(x, y)]}"
                cells[(x, y)] = title
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, title
        targets = panel.get("targets") or []
        assert targets, f"{title} has no query"
        assert len({target["refId"] for target in targets}) == len(targets), title
        for target in targets:
            assert target["expr"].strip(), f"{title}: empty query"
            assert target["datasource"] == DATASOURCE, title


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    # promtool parses PromQL in rule files: check each query as a recording rule, with
    # Grafana's interval variables given a value (the others sit inside label strings).
    rules = [
        {"record": f"dashboard:query_{number}", "expr": re.sub(r"\$__\w+", "5m", query)}
        for number, query in enumerate(_dashboard_checks(_dashboard_queries()))
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = _run(_tool("promtool"), "check", "rules", str(path)).stdout
    assert f"SUCCESS: {len(rules)} rules found" in output, output


def test_dashboard_queries_use_only_defined_variables() -> None:
    defined = {variable["name"] for variable in _dashboard()["templating"]["list"]}
    for query in _dashboard_queries():
        for name in re.findall(r"\$\{?(\w+)", query):
            assert name.startswith("__") or name in defined, f"${name} in {query}"


# --- every query names exported metrics -----------------------------------------------------

_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|#[^\n]*')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.I)
_RANGE = re.compile(r"\[[^\]]*\]")
_TOKEN = re.compile(
    r"(?P<number>(?:\d+(?:ms|[smhdwy]))+\b|0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_:][\w:]*)\s*(?:\{(?P<matchers>[^{}]*)\})?(?P<call>\s*\()?"
    r"|(?P<nameless>\{[^{}]*\})",
    re.I,
)
_MATCHER = re.compile(r"(?P<label>[A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan", "le",
})  # fmt: skip


@dataclass(frozen=True)
class Selector:
    """A metric name a query reads, with the label names its matchers use."""

    name: str
    labels: frozenset[str]


def _blank_strings(query: str) -> str:
    return _STRING_OR_COMMENT.sub(
        lambda match: "" if match.group().startswith("#") else '""', query
    )


def metric_selectors(query: str) -> list[Selector]:
    """The metrics a PromQL query (or a Grafana query with $variables) reads.

    Strings and comments go first (label values and regexes may hold anything), then Grafana's
    variables, grouping clauses (`by (route, le)` lists label names, not metrics) and ranges
    (`[5m]`). What is left is numbers and durations, keywords, operators, functions and
    aggregations (a name followed by a parenthesis), and the metric names, each with the label
    names of its matchers when it has braces.
    """
    text = _RANGE.sub(" ", _GROUPING.sub(" ", _GRAFANA_VARIABLE.sub("", _blank_strings(query))))
    selectors = []
    for token in _TOKEN.finditer(text):
        if token.group("nameless"):
            raise ValueError(f"a selector without a metric name in {query!r}")
        name = token.group("name")
        if not name or name.lower() in _KEYWORDS:
            continue
        matchers = token.group("matchers")
        if token.group("call") and matchers is None:
            continue  # a function or an aggregation
        labels = frozenset(_MATCHER.findall(matchers or ""))
        if "__name__" in labels:
            raise ValueError(f"name the metric instead of matching __name__ in {query!r}")
        selectors.append(Selector(name, labels))
    return selectors


def test_metric_selectors_find_the_metrics_and_nothing_else() -> None:
    query = """
        # a comment naming not_a_metric
        sum by (route, le) (rate(first_bucket{status=~"5..|le", le!="0.5", job=~"$job"}[5m]
          offset 1h30m))
        / on (job) group_left second > bool 1e3
        and ignoring (instance) topk(5, third{ method = "GET" } @ 1609746000) * -Inf
        unless label_replace(fourth, "dst", "$1 fifth", "src", "(.*)")
        or histogram_quantile(0.9, rate(sixth[$__rate_interval:1m]))
    """
    assert metric_selectors(query) == [
        Selector("first_bucket", frozenset({"status", "le", "job"})),
        Selector("second", frozenset()),
        Selector("third", frozenset({"method"})),
        Selector("fourth", frozenset()),
        Selector("sixth", frozenset()),
    ]
    with pytest.raises(ValueError, match="__name__"):
        metric_selectors('{__name__="anything"}')
    with pytest.raises(ValueError, match="without a metric name"):
        metric_selectors('count({job="x"})')


@dataclass(frozen=True)
class Exports:
    """What a scrape of the app holds: each sample name with the label names it may carry, and
    each metric family with its sample names."""

    series: dict[str, frozenset[str]]
    families: dict[str, frozenset[str]]


# The sample names a family of each type exposes (prometheus_client writes `_created` too).
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "unknown": ("",),
}


def _label_names(metric: object) -> frozenset[str]:
    # A labelled metric has no samples until a label set is used, so its declared label names
    # are read where prometheus_client keeps them (on metrics and on GaugeMetricFamily).
    return frozenset(getattr(metric, "_labelnames", ()))


@pytest.fixture(scope="module")
def exported(pool: ConnectionPool) -> Exports:
    """The app's registry, plus the gauges collected from a real PostgreSQL."""
    from prometheus_client.metrics import MetricWrapperBase

    import shared.metrics

    gauges = list(DatabaseGauges(pool.connection).collect())
    assert gauges, "DatabaseGauges read nothing from the test database (see the warning it logged)"
    declared = {
        next(iter(metric.describe())).name: _label_names(metric)
        for metric in vars(shared.metrics).values()
        if isinstance(metric, MetricWrapperBase)
    }
    declared |= {family.name: _label_names(family) for family in gauges}
    series = dict(PROMETHEUS_SERIES)
    families: dict[str, frozenset[str]] = {}
    family: Metric
    for family in [*REGISTRY.collect(), *gauges]:
        assert family.name in declared, f"{family.name} is registered outside shared/metrics.py"
        labels = declared[family.name] | TARGET_LABELS
        names = [family.name + suffix for suffix in _SAMPLE_SUFFIXES[family.type]]
        for name in names:
            series[name] = (labels | {"le"}) if name.endswith("_bucket") else labels
        families[family.name] = frozenset(names)
    return Exports(series, families)


def unknown_metrics(queries: Iterable[str], exports: Exports) -> list[str]:
    """A line for each metric a query reads that the app does not export, and for each label a
    matcher uses that the metric does not carry."""
    problems = []
    for query in queries:
        for selector in metric_selectors(query):
            labels = exports.series.get(selector.name)
            if labels is None:
                problems.append(f"{selector.name} is not exported, in: {query.strip()}")
            elif not selector.labels <= labels:
                extra = sorted(selector.labels - labels)
                problems.append(f"{selector.name} has no label {extra}, in: {query.strip()}")
    return problems


def _alert_queries() -> list[str]:
    queries = [rule["expr"] for rule in _rules()]
    for test in _load_yaml(ALERT_TESTS)["tests"]:
        queries += [series["series"] for series in test.get("input_series", [])]
        queries += [case["expr"] for case in test.get("promql_expr_test", [])]
    return queries


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<query>.+),\s*(?P<label>\w+)\s*\)\s*$", re.S)


def _dashboard_checks(queries: Iterable[str]) -> Iterator[str]:
    """The dashboard's queries as plain PromQL; a variable's `label_values(QUERY, LABEL)` is
    QUERY with a matcher on LABEL, so that the label is checked too."""
    for query in queries:
        match = _LABEL_VALUES.match(query)
        if not match:
            yield query
            continue
        inner, label = match.group("query"), match.group("label")
        for selector in metric_selectors(inner):
            yield f'{selector.name}{{{label}=""}}'
        yield inner


def test_alert_rules_and_their_tests_read_only_exported_metrics(exported: Exports) -> None:
    for rule in _rules():
        assert metric_selectors(rule["expr"]), f"{rule['alert']} reads no metric"
    assert unknown_metrics(_alert_queries(), exported) == []


def test_dashboard_reads_only_exported_metrics(exported: Exports) -> None:
    assert unknown_metrics(_dashboard_checks(_dashboard_queries()), exported) == []


def test_dashboard_shows_every_exported_metric(exported: Exports) -> None:
    shown = {
        selector.name
        for query in _dashboard_checks(_dashboard_queries())
        for selector in metric_selectors(query)
    }
    missing = sorted(family for family, names in exported.families.items() if not names & shown)
    assert missing == [], f"add a panel to {DASHBOARD.name} for: {missing}"


def test_the_name_check_rejects_what_the_app_does_not_export(exported: Exports) -> None:
    good = (
        "histogram_quantile(0.95, sum by (route, le) (rate("
        'invoices_http_request_duration_seconds_bucket{job=~"$job", le!=""}[$__rate_interval])))'
    )
    assert unknown_metrics([good, "max(invoices_jobs_stuck) > 0"], exported) == []
    bogus = {
        "sum(rate(invoices_documents_failed_total[5m]))": "invoices_documents_failed_total",
        "invoices_jobs_stuck_total > 0": "invoices_jobs_stuck_total",
        "rate(invoices_llm_requests[5m])": "invoices_llm_requests",
        'invoices_http_requests_total{code="500"}': "no label ['code']",
        'invoices_review_queue{status="x"} > 1': "no label ['status']",
    }
    for query, complaint in bogus.items():
        problems = unknown_metrics([query], exported)
        assert len(problems) == 1 and complaint in problems[0], (query, problems)
