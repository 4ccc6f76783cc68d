"""Monitoring: the Prometheus config and rules rendered from the registry,
checked by Prometheus's own promtool (config syntax, rule syntax, and each
alert firing, and not firing, on synthetic series with `promtool test rules`)."""
import json
import re
import shutil
import subprocess
import textwrap

import httpx
import pytest
import yaml

from contract.registry import load
from stack import prometheus
from tests.stack.haproxy import HAProxy
from tests.support.backend import Backend
from tests.support.services import REPO

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian prometheus; scripts/setup)")


@pytest.fixture
def rendered(tmp_path, tiny_registry):
    files = prometheus.render(load(tiny_registry), rules_path=str(tmp_path / "writeup-rules.yml"),
                              haproxy_targets=["127.0.0.1:8404"], max_queue=64)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def promtool(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_every_instance_and_the_load_balancer_are_scraped(rendered, tiny_registry):
    config = yaml.safe_load((rendered / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    targets = {t for c in jobs["writeup-microservice"]["static_configs"] for t in c["targets"]}
    assert targets == {f"{i.host}:{i.port}" for i in load(tiny_registry).instances}
    assert jobs["haproxy"]["static_configs"][0]["targets"] == ["127.0.0.1:8404"]
    assert "writeup-backend" not in jobs  # the backend is scraped only where it exposes metrics
    assert config["rule_files"] == [str(rendered / "writeup-rules.yml")]


@needs_promtool
def test_promtool_accepts_the_config_and_rules(rendered):
    proc = promtool("check", "config", rendered / "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


RULE_TESTS = """
rule_files: [writeup-rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="writeup-microservice", instance="10.0.0.1:8101", writeup_instance="a"}'
        values: '1 1 0 0 0 0'
      - series: 'up{job="writeup-microservice", instance="10.0.0.2:8101", writeup_instance="b"}'
        values: '1 1 1 1 1 1'
      - series: 'haproxy_backend_active_servers{proxy="route_smollm2"}'
        values: '2 2 0 0 0 0'
      - series: 'haproxy_backend_active_servers{proxy="route_poetry"}'
        values: '1 1 1 1 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: WriteupInstanceDown
        exp_alerts: []
      - eval_time: 5m
        alertname: WriteupInstanceDown
        exp_alerts:
          - exp_labels: {severity: page, job: writeup-microservice, instance: "10.0.0.1:8101", writeup_instance: a}
            exp_annotations: {summary: "Model instance a is not answering /metrics"}
      - eval_time: 5m
        alertname: WriteupRouteDown
        exp_alerts:
          - exp_labels: {severity: page, proxy: route_smollm2}
            exp_annotations: {summary: "No instance of route_smollm2 is UP in HAProxy: writers get model_unavailable"}

  - interval: 1m
    input_series:
      # a: nine in ten first tokens take 1-5 s; b: all under 0.5 s.
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:1", writeup_instance="a", le="0.5"}'
        values: '0+1x30'
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:1", writeup_instance="a", le="1"}'
        values: '0+1x30'
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:1", writeup_instance="a", le="5"}'
        values: '0+10x30'
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:1", writeup_instance="a", le="+Inf"}'
        values: '0+10x30'
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:2", writeup_instance="b", le="0.5"}'
        values: '0+10x30'
      - series: 'writeup_time_to_first_token_seconds_bucket{instance="i:2", writeup_instance="b", le="+Inf"}'
        values: '0+10x30'
      # a: half its requests end in an error; b: none.
      - series: 'writeup_requests_total{instance="i:1", writeup_instance="a", outcome="error"}'
        values: '0+5x30'
      - series: 'writeup_requests_total{instance="i:1", writeup_instance="a", outcome="length"}'
        values: '0+5x30'
      - series: 'writeup_requests_total{instance="i:2", writeup_instance="b", outcome="length"}'
        values: '0+5x30'
      # a: 60 of 64 queue places taken; b: 3.
      - series: 'writeup_queue_depth{instance="i:1", writeup_instance="a"}'
        values: '60x30'
      - series: 'writeup_queue_depth{instance="i:2", writeup_instance="b"}'
        values: '3x30'
      # a: a lookup a second, none hits; b: most hit.
      - series: 'writeup_prefix_cache_lookups_total{instance="i:1", writeup_instance="a"}'
        values: '0+60x30'
      - series: 'writeup_prefix_cache_hits_total{instance="i:1", writeup_instance="a"}'
        values: '0x30'
      - series: 'writeup_prefix_cache_lookups_total{instance="i:2", writeup_instance="b"}'
        values: '0+60x30'
      - series: 'writeup_prefix_cache_hits_total{instance="i:2", writeup_instance="b"}'
        values: '0+50x30'
      # HAProxy: route_smollm2 answers 5xx to half the relay's requests; route_poetry to none.
      - series: 'haproxy_backend_http_responses_total{proxy="route_smollm2", code="5xx"}'
        values: '0+30x30'
      - series: 'haproxy_backend_http_responses_total{proxy="route_smollm2", code="2xx"}'
        values: '0+30x30'
      - series: 'haproxy_backend_http_responses_total{proxy="route_poetry", code="2xx"}'
        values: '0+30x30'
    promql_expr_test:
      - expr: writeup:queue_fill_ratio{writeup_instance="a"}
        eval_time: 20m
        exp_samples:
          - labels: 'writeup:queue_fill_ratio{instance="i:1", writeup_instance="a"}'
            value: 0.9375
    alert_rule_test:
      - eval_time: 5m
        alertname: WriteupTTFTHigh
        exp_alerts: []  # over budget, but not yet for long enough
      - eval_time: 20m
        alertname: WriteupTTFTHigh
        exp_alerts:
          - exp_labels: {severity: ticket, instance: "i:1", writeup_instance: a}
            exp_annotations: {summary: "p90 time to first token on a is 4.556s (budget 2.0 s)"}
      - eval_time: 20m
        alertname: WriteupErrorRateHigh
        exp_alerts:
          - exp_labels: {severity: page, instance: "i:1", writeup_instance: a}
            exp_annotations: {summary: "50% of requests on a end in an error"}
      - eval_time: 20m
        alertname: WriteupQueueSaturated
        exp_alerts:
          - exp_labels: {severity: ticket, instance: "i:1", writeup_instance: a}
            exp_annotations: {summary: "a's queue is 93.75% full: writers are about to get busy"}
      - eval_time: 30m
        alertname: WriteupPrefixCacheCollapsed
        exp_alerts:
          - exp_labels: {severity: ticket, instance: "i:1", writeup_instance: a}
            exp_annotations: {summary: "Prefix cache hit ratio on a fell to 0%: long drafts pay full prefill"}
      - eval_time: 20m
        alertname: WriteupUpstreamErrors
        exp_alerts:
          - exp_labels: {severity: page, proxy: route_smollm2}
            exp_annotations: {summary: "50% of the backend's requests to route_smollm2 get a 5xx from HAProxy"}

  - interval: 1m
    input_series:
      # The backend relays a request a second per model; a fifth of smollm2's end in an upstream error.
      - series: 'writeup_backend_compose_requests_total{instance="web:8000", model="smollm2"}'
        values: '0+60x30'
      - series: 'writeup_backend_upstream_errors_total{instance="web:8000", model="smollm2", code="model_unavailable"}'
        values: '0+6x30'
      - series: 'writeup_backend_upstream_errors_total{instance="web:8000", model="smollm2", code="timeout"}'
        values: '0+6x30'
      - series: 'writeup_backend_compose_requests_total{instance="web:8000", model="poetry"}'
        values: '0+60x30'
      - series: 'writeup_backend_upstream_errors_total{instance="web:8000", model="poetry", code="busy"}'
        values: '0+1x30'
    alert_rule_test:
      - eval_time: 5m
        alertname: WriteupBackendUpstreamErrors
        exp_alerts: []  # over the ratio, but not yet for long enough
      - eval_time: 20m
        alertname: WriteupBackendUpstreamErrors
        exp_alerts:
          - exp_labels: {severity: page, instance: "web:8000", model: smollm2}
            exp_annotations: {summary: "20% of suggestions for smollm2 relayed by web:8000 end in an upstream error"}
"""


@needs_promtool
def test_each_alert_fires_on_its_condition_and_only_then(rendered):
    (rendered / "rules-test.yml").write_text(textwrap.dedent(RULE_TESTS))
    proc = promtool("test", "rules", "rules-test.yml", cwd=rendered)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def metric_names_in_exprs(exprs) -> set[str]:
    """Raw metric names PromQL expressions query (recording rules' own names have a colon)."""
    names = set()
    for expr in exprs:
        expr = re.sub(r'"[^"]*"', '""', expr)  # label values are not names
        expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # nor are label lists
        names |= {n for n in re.findall(r"\b((?:writeup|haproxy|django)_[a-z_]+|up)\b(?!\s*\()", expr)}
    return names


def metric_names_in(rules_text: str) -> set[str]:
    return metric_names_in_exprs(r["expr"] for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"])


DASHBOARD = REPO / "ansible" / "roles" / "prometheus" / "files" / "writeup-dashboard.json"


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]


def scraped_names(*urls) -> set[str]:
    """Every metric name the pages expose, declared families included."""
    exposed = set()
    for url in urls:
        for line in httpx.get(url, timeout=10, trust_env=False).text.splitlines():
            if line.startswith("# TYPE "):
                # Declared families count too: a labelled counter has no sample until first used.
                _, _, name, kind = line.split()
                exposed |= {name, f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" \
                    else {name, name if name.endswith("_total") or kind != "counter" else f"{name}_total"}
            elif line and not line.startswith("#"):
                exposed.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return exposed


@pytest.fixture(scope="module")
def exposed(microservice, tiny_registry, tmp_path_factory) -> set[str]:
    """Scrape a real microservice, a real HAProxy and a real backend."""
    tmp_path = tmp_path_factory.mktemp("scrapes")
    instances = [{"id": "tiny-gpt2-1", "host": "127.0.0.1", "port": microservice.port, "routes": ["tiny-gpt2"]}]
    lb = HAProxy(tiny_registry, instances, tmp_path).start(timeout=20)
    web = Backend(tmp_path, tiny_registry).start()
    try:
        lb.wait_status("route_tiny-gpt2", "tiny-gpt2-1", "UP")
        httpx.get(f"{web.url}/api/models/", timeout=10, trust_env=False)  # a request for the latency histogram
        return scraped_names(f"{microservice.url}/metrics", f"http://127.0.0.1:{lb.stats_port}/metrics",
                             f"{web.url}/metrics")
    finally:
        web.stop()
        lb.stop()


def test_the_rules_name_only_metrics_a_real_stack_exposes(rendered, exposed):
    queried = metric_names_in((rendered / "writeup-rules.yml").read_text()) - {"up"}  # `up` is Prometheus's own
    assert any(n.startswith("writeup_backend_") for n in queried)
    assert queried and queried <= exposed, sorted(queried - exposed)


def test_the_dashboard_queries_only_metrics_a_real_stack_exposes(exposed):
    queried = metric_names_in_exprs(dashboard_exprs()) - {"up"}
    for wanted in ("writeup_time_to_first_token_seconds_bucket", "writeup_requests_total", "writeup_queue_depth",
                   "haproxy_backend_active_servers", "writeup_prefix_cache_hits_total",
                   "writeup_backend_upstream_errors_total"):
        assert wanted in queried, wanted  # the panels the issue asks for
    assert queried <= exposed, sorted(queried - exposed)


def test_the_dashboard_reads_the_provisioned_data_source():
    dashboard = json.loads(DASHBOARD.read_text())
    source = yaml.safe_load((REPO / "ansible/roles/prometheus/templates/grafana-datasource.yml.j2").read_text()
                            .replace("{{ prometheus_grafana_prometheus_url }}", "http://127.0.0.1:9090"))
    uid = source["datasources"][0]["uid"]
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {uid}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_backend_is_scraped_at_its_metrics_page(tmp_path, tiny_registry):
    files = prometheus.render(load(tiny_registry), rules_path=str(tmp_path / "r.yml"), backend_targets=["10.0.0.9:8000"])
    jobs = {j["job_name"]: j for j in yaml.safe_load(files["prometheus.yml"])["scrape_configs"]}
    assert jobs["writeup-backend"]["metrics_path"] == "/metrics"
    assert jobs["writeup-backend"]["static_configs"][0]["targets"] == ["10.0.0.9:8000"]
