"""The HAProxy config generated from the registry is valid and routes every route."""
import subprocess

import pytest
import yaml

from contract.registry import DEFAULT_REGISTRY, load, parse
from stack import haproxy_config


def haproxy_check(tmp_path, text: str) -> str:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    proc = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


@pytest.mark.parametrize("registry", ["default", "tiny"])
def test_generated_config_passes_haproxy_check_without_warnings(tmp_path, tiny_registry, registry):
    reg = load(DEFAULT_REGISTRY if registry == "default" else tiny_registry)
    text = haproxy_config.render(reg, stats_socket=str(tmp_path / "admin.sock"))
    assert "[WARNING]" not in haproxy_check(tmp_path, text)
    for route in reg.models:
        assert f"backend route_{route}\n" in text
        assert f"http-check send meth GET uri /{route}/health" in text
    for inst in reg.instances:
        assert f"server {inst.id} {inst.host}:{inst.port} check" in text


def test_a_new_registry_entry_is_a_new_pool(tmp_path):
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    data["models"]["poetry"] = {"name": "Poetry", "base": "smollm2", "adapter": {"path": "models/adapters/poetry"}}
    data["instances"][0]["routes"] = ["smollm2", "poetry"]
    reg = parse(data, "edited")
    text = haproxy_config.render(reg, stats_socket=str(tmp_path / "admin.sock"))
    haproxy_check(tmp_path, text)
    pool = text.split("backend route_poetry\n", 1)[1].split("\n\n", 1)[0]
    assert "uri /poetry/health" in pool
    assert "server smollm2-1 127.0.0.1:8101 check" in pool


def test_only_started_instances_become_servers(tmp_path, tiny_registry):
    reg = load(tiny_registry)
    started = [{"id": "tiny-gpt2-1", "host": "127.0.0.1", "port": 9001, "routes": ["tiny-gpt2"]}]
    text = haproxy_config.render(reg, instances=started, stats_socket=str(tmp_path / "admin.sock"))
    haproxy_check(tmp_path, text)
    assert text.count(" check\n") == 1
    # a route with no instance keeps its (empty) pool: HAProxy answers it with a JSON 503
    assert "backend route_missing\n" in text


def test_unknown_settings_are_refused(tiny_registry):
    with pytest.raises(TypeError):
        haproxy_config.render(load(tiny_registry), prot=1)


def test_autoscaled_routes_get_dns_filled_slots(tmp_path, tiny_registry):
    reg = load(tiny_registry)
    text = haproxy_config.render(reg, instances=[], stats_socket=str(tmp_path / "admin.sock"),
                                 discovery=[{"route": "tiny-llama", "dns": "llama.workers.internal", "port": 8111,
                                             "slots": 8}], resolvers=["127.0.0.1:53"])
    assert "[WARNING]" not in haproxy_check(tmp_path, text)
    assert "server-template tiny-llama- 8 llama.workers.internal:8111 check resolvers writeup" in text
    assert '"id":"tiny-llama"' in text and '"id":"tiny-gpt2"' not in text  # /v1/models lists served routes
