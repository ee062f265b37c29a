"""The observability configuration under observability/, checked without Docker.

Prometheus: promtool checks the scrape configuration and the rules and runs the rules' unit
tests (observability/prometheus/alerts_test.yml). Every alert has a case where it fires and one
where it does not, a runbook section in docs/observability.md, and names only metrics of the
contract below.

Grafana: the provisioned data sources, and the dashboard's JSON against the shape of Grafana's
dashboard model (unique panel ids, data source uids that resolve). Every panel's query is run by
a real Prometheus (Debian's, the package that brings promtool) over samples of every metric of
the contract: it must parse, return data, and have the labels its legend names.

The contract is the list of metrics the services expose at GET /metrics (docs/observability.md
shows it as a table; a test keeps the two the same). A misspelt metric or label in a rule or a
panel would otherwise show as an alert that never fires or a panel that stays empty.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from contracts.payments import EVENT_TYPES, NOTIFICATION_STREAM, STATE_STREAM
from jsonschema import Draft202012Validator

from tests.helpers.prometheus import (
    DASHBOARD,
    PrometheusServer,
    dashboard,
    expression,
    panels,
    targets,
    tool,
)

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "observability" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA = ROOT / "observability" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
DOCS = ROOT / "docs" / "observability.md"


# ---- the contract: what the services expose ----


@dataclass(frozen=True)
class Metric:
    kind: str  # counter, gauge or histogram
    labels: frozenset[str]

    def series_names(self, name: str) -> set[str]:
        """The series names a scrape stores for this metric (a counter's name ends in _total
        already; a histogram is stored as three series: buckets, count and sum)."""
        if self.kind == "histogram":
            return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        return {name}


def metric(kind: str, *labels: str) -> Metric:
    return Metric(kind, frozenset(labels))


CONTRACT = {
    "http_server_request_duration_seconds": metric("histogram", "method", "route", "status"),
    "eventkit_consumer_lag_entries": metric("gauge", "stream", "group"),
    "eventkit_consumer_lag_seconds": metric("gauge", "stream", "group"),
    "eventkit_consumer_pending_entries": metric("gauge", "stream", "group"),
    "eventkit_consumer_events_total": metric("counter", "stream", "group", "type", "outcome"),
    "eventkit_consumer_handle_seconds": metric("histogram", "stream", "group"),
    "eventkit_consumer_running": metric("gauge", "stream", "group", "consumer"),
    "eventkit_dead_letter_entries": metric("gauge", "stream"),
    "eventkit_stream_retention_ceiling": metric("gauge", "stream"),
    "eventkit_store_appends_total": metric("counter", "outcome"),
    "eventkit_queue_length": metric("gauge", "queue", "place"),
    "eventkit_queue_workers": metric("gauge", "queue"),
    "eventkit_queue_worker_running": metric("gauge", "queue", "worker"),
    "eventkit_queue_worker_messages_total": metric("counter", "queue", "outcome"),
    "notifications_callback_duration_seconds": metric("histogram", "outcome"),
    # Prometheus' own, one per target.
    "up": metric("gauge"),
}
# Every series gets these from the scrape; a histogram's buckets also have `le`.
TARGET_LABELS = frozenset({"job", "instance"})
SERIES = {series: name for name, m in CONTRACT.items() for series in m.series_names(name)}


# ---- which metrics and labels a PromQL expression names ----

KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "atan2", "inf", "nan"}
)
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Names:
    metrics: frozenset[str]
    labels: frozenset[str]


def names_in(expr: str) -> Names:
    """The series and label names ``expr`` refers to.

    A small lexer rather than a parser: the real parser (Prometheus, below) tells whether an
    expression is valid; this finds the identifiers in a valid one. Strings are dropped first
    (a label value may contain anything), then label matchers, grouping clauses and ranges are
    taken apart; what is left is functions (a name before "("), keywords and series names.
    """
    assert "__name__" not in expr, "name metrics directly, so that this check can see them"
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    labels: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels.update(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for grouped in GROUPING.findall(text):
        labels.update(label.strip() for label in grouped.split(",") if label.strip())
    text = GROUPING.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries: durations only
    metrics = set()
    # Not after a digit or a dot: the "e3" of 1e3 or the "m" of `offset 5m` is no name.
    for match in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in KEYWORDS:
            metrics.add(match.group())
    return Names(frozenset(metrics), frozenset(labels))


def check_names(expr: str) -> None:
    """Every series ``expr`` names is in the contract, and every label one of theirs."""
    names = names_in(expr)
    assert names.metrics, f"no metric in {expr!r}"
    unknown = names.metrics - SERIES.keys()
    assert not unknown, f"not exposed by any service: {sorted(unknown)} in {expr!r}"
    allowed = set(TARGET_LABELS)
    for series in names.metrics:
        allowed |= CONTRACT[SERIES[series]].labels
        if series.endswith("_bucket"):
            allowed.add("le")
    assert names.labels <= allowed, f"unknown labels {sorted(names.labels - allowed)} in {expr!r}"


@pytest.mark.parametrize(
    ("expr", "metrics", "labels"),
    [
        ("up == 0", {"up"}, set()),
        (
            'sum by (job) (rate(x_total{status=~"5.."}[5m] offset 1m)) > bool 1e3',
            {"x_total"},
            {"job", "status"},
        ),
        (
            'histogram_quantile(0.99, sum by (le) (rate(h_bucket{route="/a/{id} or b"}[1m])))',
            {"h_bucket"},
            {"le", "route"},
        ),
        ("a / on (job) group_left (stream) b unless c", {"a", "b", "c"}, {"job", "stream"}),
        ('absent(up{job="orders"}) or vector(0)', {"up"}, {"job"}),
    ],
)
def test_names_in_finds_metrics_and_labels_and_nothing_else(
    expr: str, metrics: set[str], labels: set[str]
) -> None:
    assert names_in(expr) == Names(frozenset(metrics), frozenset(labels))


def test_a_misspelt_metric_or_label_is_caught() -> None:
    with pytest.raises(AssertionError, match="not exposed"):
        check_names("eventkit_consumer_lag_second > 60")
    with pytest.raises(AssertionError, match="not exposed"):
        check_names("rate(eventkit_consumer_handle_seconds[5m])")  # a histogram's bare name
    with pytest.raises(AssertionError, match="unknown labels"):
        check_names("max by (stream, grop) (eventkit_consumer_lag_seconds)")
    check_names("max by (stream, group) (eventkit_consumer_lag_seconds)")


# ---- promtool ----


def promtool(*args: str | Path) -> str:
    result = subprocess.run(
        [tool("promtool"), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_promtool_accepts_the_scrape_config_and_the_rules_it_loads() -> None:
    assert "SUCCESS" in promtool("check", "config", PROMETHEUS_CONFIG)


def test_promtool_accepts_the_rules() -> None:
    assert "SUCCESS" in promtool("check", "rules", RULES)


def test_alert_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", RULE_TESTS)


def test_promtool_test_fails_when_an_alert_does_not_fire(tmp_path: Path) -> None:
    # The unit tests can fail: the same tests against rules whose threshold was raised.
    rules = RULES.read_text().replace("lag_seconds) > 60\n", "lag_seconds) > 600\n")
    assert rules != RULES.read_text()
    (tmp_path / RULES.name).write_text(rules)
    shutil.copy(RULE_TESTS, tmp_path)
    result = subprocess.run(
        [tool("promtool"), "test", "rules", RULE_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "alertname: ConsumerLagHigh" in result.stdout + result.stderr


# ---- the rules ----


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


ALERTS = [rule["alert"] for rule in alerting_rules()]


def test_rules_are_all_alerts_with_distinct_names() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(alerting_rules()), "no recording rules: every rule is an alert"
    assert len(set(ALERTS)) == len(ALERTS)


@pytest.mark.parametrize("rule", alerting_rules(), ids=ALERTS)
def test_alert_names_only_metrics_and_labels_of_the_contract(rule: dict[str, Any]) -> None:
    check_names(rule["expr"])


def anchors(markdown: str) -> set[str]:
    """The anchors of the headings, as GitHub makes them."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings
    }


@pytest.mark.parametrize("rule", alerting_rules(), ids=ALERTS)
def test_alert_says_what_happened_and_links_its_runbook(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook"}
    assert rule["labels"]["severity"] in ("critical", "warning")
    path, _, anchor = annotations["runbook"].partition("#")
    assert path == DOCS.relative_to(ROOT).as_posix()
    assert anchor == rule["alert"].lower()
    assert anchor in anchors(DOCS.read_text()), f"docs/observability.md has no #{anchor}"


def rule_tests() -> list[dict[str, Any]]:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    assert isinstance(tests, list)
    return tests


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_case_that_fires_and_one_that_does_not(alert: str) -> None:
    cases = [
        case
        for test in rule_tests()
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case["exp_alerts"] for case in cases), f"no test where {alert} fires"
    assert any(not case["exp_alerts"] for case in cases), f"no test where {alert} stays quiet"


def test_rule_tests_feed_only_series_of_the_contract() -> None:
    # Otherwise a misspelt name in both the rule and its test would pass.
    for test in rule_tests():
        for series in test["input_series"]:
            check_names(series["series"])
            assert set(names_in(series["series"]).labels) >= TARGET_LABELS, (
                f"{series['series']}: as scraped, with job and instance"
            )


def test_target_missing_names_every_scraped_job() -> None:
    # absent() needs the job spelled out: one per job of prometheus.yml.
    (rule,) = [rule for rule in alerting_rules() if rule["alert"] == "TargetMissing"]
    absent = set(re.findall(r'absent\(up\{job="([^"]+)"\}\)', rule["expr"]))
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert absent == {job["job_name"] for job in config["scrape_configs"]}


# ---- Grafana: data sources and the dashboard ----


def datasources() -> dict[str, str]:
    """The provisioned data sources, as {uid: type}."""
    provisioned = yaml.safe_load(DATASOURCES.read_text())
    assert provisioned["apiVersion"] == 1
    return {source["uid"]: source["type"] for source in provisioned["datasources"]}


def test_data_sources_have_fixed_uids_and_one_default() -> None:
    assert datasources() == {"prometheus": "prometheus", "jaeger": "jaeger"}
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert [source["uid"] for source in provisioned if source.get("isDefault")] == ["prometheus"]
    (prometheus,) = [source for source in provisioned if source["type"] == "prometheus"]
    # $__rate_interval is computed from it: it must be the scrape interval.
    scrape = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["global"]["scrape_interval"]
    assert prometheus["jsonData"]["timeInterval"] == scrape
    # Exemplar links open the trace in the Jaeger data source.
    (link,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert link["datasourceUid"] in datasources()
    assert datasources()[link["datasourceUid"]] == "jaeger"


# Grafana's dashboard model, for the parts this dashboard uses: transcribed from Grafana's
# dashboard kind (kinds/dashboard/dashboard_kind.cue in grafana/grafana: the schema Grafana's
# own code is generated from). Grafana checks a provisioned file only when it loads it, and
# then logs what is wrong and shows an empty or broken panel; this catches the same mistakes
# here. Panel plugins' own options are open objects in that schema, and so they are here.
DATASOURCE_REF = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "uid": {"type": "string"}},
    "required": ["type", "uid"],
}
GRID_POS = {
    "type": "object",
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
    "required": ["h", "w", "x", "y"],
}
PANEL = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "minLength": 1, "not": {"const": "row"}},
        "id": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "datasource": DATASOURCE_REF,
        "gridPos": GRID_POS,
        "targets": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"refId": {"type": "string"}, "datasource": DATASOURCE_REF},
                "required": ["refId"],
            },
        },
        "options": {"type": "object"},
        "fieldConfig": {
            "type": "object",
            "properties": {
                "defaults": {"type": "object"},
                "overrides": {"type": "array"},
            },
            "required": ["defaults", "overrides"],
        },
        "transformations": {"type": "array"},
    },
    "required": ["type", "id", "gridPos", "options", "fieldConfig", "transformations"],
}
ROW = {
    "type": "object",
    "properties": {
        "type": {"const": "row"},
        "id": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "title": {"type": "string"},
        "collapsed": {"type": "boolean"},
        "gridPos": GRID_POS,
        "panels": {"type": "array", "items": PANEL},
    },
    "required": ["type", "id", "collapsed", "panels"],
}
DASHBOARD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "timezone": {"type": "string"},
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "time": {
            "type": "object",
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
            "required": ["from", "to"],
        },
        "refresh": {"type": ["string", "boolean"]},
        "schemaVersion": {"type": "integer", "minimum": 0, "maximum": 65535},
        "version": {"type": "integer", "minimum": 0},
        "panels": {"type": "array", "items": {"oneOf": [ROW, PANEL]}},
        "templating": {
            "type": "object",
            "properties": {"list": {"type": "array", "items": {"type": "object"}}},
        },
        "annotations": {
            "type": "object",
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "datasource": {"type": "object"},
                            "enable": {"type": "boolean"},
                            "iconColor": {"type": "string"},
                        },
                        "required": ["name", "datasource", "enable", "iconColor"],
                    },
                }
            },
        },
    },
    "required": ["uid", "title", "schemaVersion", "panels", "editable", "graphTooltip"],
}
# Panel types that ship with Grafana: a plugin the stack does not install would not render.
CORE_PANELS = {"timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap", "row"}


def test_dashboard_matches_grafanas_dashboard_schema() -> None:
    Draft202012Validator.check_schema(DASHBOARD_SCHEMA)
    errors = sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in Draft202012Validator(DASHBOARD_SCHEMA).iter_errors(dashboard())
    )
    assert not errors, "\n".join(errors)


def test_the_schema_catches_a_broken_dashboard() -> None:
    broken = dashboard()
    broken["panels"][1]["gridPos"]["w"] = 30  # wider than the 24 columns
    del broken["panels"][2]["fieldConfig"]
    errors = list(Draft202012Validator(DASHBOARD_SCHEMA).iter_errors(broken))
    assert len(errors) == 2


def test_panel_ids_are_unique_and_panels_use_core_plugins() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    assert {panel["type"] for panel in panels()} <= CORE_PANELS


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels():
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} runs past the 24 columns"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_datasource_reference_resolves_to_a_provisioned_one() -> None:
    provisioned = datasources()
    refs = [panel["datasource"] for panel in panels() if "datasource" in panel]
    refs += [target["datasource"] for _, target in targets()]
    assert refs, "the dashboard names its data sources"
    for ref in refs:
        assert ref["uid"] in provisioned, f"no data source with uid {ref['uid']}"
        assert provisioned[ref["uid"]] == ref["type"]
    for panel in panels():
        for target in panel.get("targets", []):
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_the_dashboard_is_the_one_provisioned() -> None:
    providers = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert sorted(path.name for path in DASHBOARD.parent.glob("*.json")) == [DASHBOARD.name]


TARGETS = pytest.mark.parametrize(
    "target", [target for _, target in targets()], ids=[name for name, _ in targets()]
)


@TARGETS
def test_panel_query_names_only_metrics_and_labels_of_the_contract(target: dict[str, Any]) -> None:
    check_names(expression(target))


def test_dashboard_shows_every_metric_of_the_contract() -> None:
    shown = {SERIES[series] for _, t in targets() for series in names_in(expression(t)).metrics}
    assert shown == set(CONTRACT)


# ---- the panels' queries, run by a real Prometheus ----

# Samples of every metric of the contract, as scrapes of the three services every 15 s for
# five minutes would have stored them, ending at END. Label values are the real streams and
# groups; the rest (routes, outcomes of the call back) are examples.
STEP_S = 15
SAMPLES = 21
END = (int(time.time()) // 60 - 60) * 60  # an hour ago: well inside the default retention
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
ORDERS = {"job": "orders", "instance": "10.0.0.5:8002"}
NOTIFICATIONS = {"job": "notifications", "instance": "10.0.0.7:8003"}
PAYMENTS = {"job": "payments", "instance": "payments:8001"}
GROUPS = [
    (ORDERS, {"stream": STATE_STREAM, "group": "orders"}),
    (NOTIFICATIONS, {"stream": NOTIFICATION_STREAM, "group": "notifications"}),
]
DEAD_LETTERS = [
    (ORDERS, {"stream": "{orders}:dead-letters"}),
    (NOTIFICATIONS, {"stream": "{notifications}:dead-letters"}),
]
MAIL = NOTIFICATIONS | {"queue": "{notifications}:mail"}


def fixture_series() -> dict[str, list[dict[str, str]]]:
    """The label sets to write for each metric of the contract."""
    consumers = [target | group for target, group in GROUPS]
    http = [
        target | {"method": method, "route": route, "status": status}
        for target, method, route, status in [
            (PAYMENTS, "POST", "/payments", "201"),
            (PAYMENTS, "GET", "/payments/{payment_id}", "200"),
            (PAYMENTS, "GET", "/payments/{payment_id}", "503"),
            (ORDERS, "GET", "/orders/{order_id}", "200"),
            (NOTIFICATIONS, "GET", "/notifications", "200"),
        ]
    ]
    return {
        "http_server_request_duration_seconds": http,
        "eventkit_consumer_lag_entries": consumers,
        "eventkit_consumer_lag_seconds": consumers,
        "eventkit_consumer_pending_entries": consumers,
        "eventkit_consumer_events_total": [
            labels | {"type": event_type, "outcome": outcome}
            for labels in consumers
            for event_type in EVENT_TYPES
            for outcome in ("handled", "retried", "dead_lettered")
        ],
        "eventkit_consumer_handle_seconds": consumers,
        "eventkit_consumer_running": [
            labels | {"consumer": "c0ffee000001"} for labels in consumers
        ],
        "eventkit_dead_letter_entries": [target | stream for target, stream in DEAD_LETTERS],
        "eventkit_stream_retention_ceiling": [
            PAYMENTS | {"stream": stream}
            for stream in ("{payments}:state", "{payments}:notifications")
        ],
        "eventkit_store_appends_total": [
            PAYMENTS | {"outcome": outcome} for outcome in ("appended", "conflict", "duplicate")
        ],
        "eventkit_queue_length": [
            MAIL | {"place": place} for place in ("ready", "delayed", "in_flight", "failed")
        ],
        "eventkit_queue_workers": [MAIL],
        "eventkit_queue_worker_running": [MAIL | {"worker": "c0ffee000001-1a2b3c-1"}],
        "eventkit_queue_worker_messages_total": [
            MAIL | {"outcome": outcome} for outcome in ("delivered", "retried", "failed", "reaped")
        ],
        "notifications_callback_duration_seconds": [
            NOTIFICATIONS | {"outcome": outcome} for outcome in ("ok", "error")
        ],
        "up": [PAYMENTS, ORDERS, NOTIFICATIONS],
    }


def test_fixture_covers_the_contract_with_its_labels() -> None:
    series = fixture_series()
    assert set(series) == set(CONTRACT)
    for name, label_sets in series.items():
        for labels in label_sets:
            assert set(labels) == CONTRACT[name].labels | TARGET_LABELS, name


def openmetrics() -> str:
    """The fixture in OpenMetrics text, which promtool turns into TSDB blocks."""

    def line(series: str, labels: dict[str, str], value: float, at: int) -> str:
        pairs = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
        return f"{series}{{{pairs}}} {value} {at}"

    lines = []
    for name, label_sets in fixture_series().items():
        kind = CONTRACT[name].kind
        lines.append(f"# TYPE {name.removesuffix('_total')} {kind}")
        for number, labels in enumerate(label_sets, start=1):
            for i in range(SAMPLES):
                at = END - (SAMPLES - 1 - i) * STEP_S
                if kind == "counter":
                    lines.append(line(name, labels, number * i * 3, at))
                elif kind == "gauge":
                    lines.append(line(name, labels, number, at))
                else:  # a histogram: cumulative buckets, then count and sum
                    count = number * i * 10
                    for position, le in enumerate(BUCKETS, start=1):
                        cumulative = count * min(1.0, position / 8)
                        bound = "+Inf" if le == math.inf else str(le)
                        lines.append(line(f"{name}_bucket", labels | {"le": bound}, cumulative, at))
                    lines.append(line(f"{name}_count", labels, count, at))
                    lines.append(line(f"{name}_sum", labels, count * 0.05, at))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/v1/query", params={"query": expr, "time": END})


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port, its storage filled with the fixture."""
    work = tmp_path_factory.mktemp("prometheus")
    (work / "fixture.om").write_text(openmetrics())
    promtool("tsdb", "create-blocks-from", "openmetrics", work / "fixture.om", work / "data")
    # Nothing to scrape: the data is already stored.
    server = PrometheusServer(work, "global: {}\n", storage=work / "data").start()
    try:
        yield Prometheus(server.url)
    finally:
        server.stop()


def test_prometheus_serves_the_fixture(prometheus: Prometheus) -> None:
    answer = prometheus.query("count(up)").json()
    assert answer["data"]["result"][0]["value"][1] == "3"


def test_prometheus_refuses_an_invalid_query(prometheus: Prometheus) -> None:
    # What "the query parses" means below: this is what a mistake looks like.
    answer = prometheus.query("sum by (job (rate(up[1m]))")
    assert answer.status_code == 400
    assert answer.json()["errorType"] == "bad_data"


@TARGETS
def test_panel_query_parses_and_shows_data_with_its_legend_labels(
    target: dict[str, Any], prometheus: Prometheus
) -> None:
    answer = prometheus.query(expression(target))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    assert result, f"no data for {target['expr']}"
    legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
    for series in result:
        assert legend <= set(series["metric"]), f"legend {legend} but series {series['metric']}"
        assert series["value"][1] != "NaN", f"{target['expr']} is NaN for {series['metric']}"


# ---- docs/observability.md ----


def test_docs_metric_table_is_the_contract() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]*) \|", DOCS.read_text(), re.MULTILINE)
    documented = {
        name: metric(kind, *re.findall(r"`(\w+)`", labels)) for name, kind, labels in rows
    }
    assert documented == CONTRACT
