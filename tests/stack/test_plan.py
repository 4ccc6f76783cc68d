"""What the one-machine stack decides to run, before anything starts."""
import configparser
import socket

import pytest
import yaml

from contract.registry import load
from stack import plan as planning
from tests.support.services import free_port


def settings(tmp_path, registry, **kw):
    return planning.Settings(registry=registry, var_dir=tmp_path / "var", **kw)


def test_instances_without_weights_are_skipped_with_the_reason(tmp_path, tiny_registry):
    plan = planning.make_plan(settings(tmp_path, tiny_registry))
    assert [i.id for i in plan.instances] == ["tiny-gpt2-1", "tiny-gpt2-2", "tiny-llama-1"]
    [(iid, why)] = plan.skipped
    assert iid == "missing-1" and "not-here" in why


def test_counts_clone_instances_on_the_next_free_ports(tmp_path, tiny_registry):
    plan = planning.make_plan(settings(tmp_path, tiny_registry, counts={"tiny-gpt2": 4, "tiny-llama": 0}))
    ids = {i.id: i.port for i in plan.instances}
    assert ids == {"tiny-gpt2-1": 18101, "tiny-gpt2-2": 18102, "tiny-gpt2-3": 18103, "tiny-gpt2-4": 18104}
    assert [i.id for i in plan.registry.instances_for("tiny-llama")] == []


def test_counts_can_trim(tmp_path, tiny_registry):
    plan = planning.make_plan(settings(tmp_path, tiny_registry, counts={"tiny-gpt2": 1}))
    assert [i.id for i in plan.registry.instances_for("tiny-gpt2")] == ["tiny-gpt2-1"]


def test_unknown_route_in_counts_is_an_error(tmp_path, tiny_registry):
    with pytest.raises(ValueError, match="unknown routes"):
        planning.make_plan(settings(tmp_path, tiny_registry, counts={"nope": 2}))
    with pytest.raises(ValueError, match="ROUTE=N"):
        planning.parse_counts("tiny-gpt2:2")
    assert planning.parse_counts("a=2, b=0") == {"a": 2, "b": 0}


def test_written_files_agree(tmp_path, tiny_registry):
    plan = planning.make_plan(settings(tmp_path, tiny_registry, counts={"tiny-gpt2": 2}, instance_port_base=20000,
                                       web_port=20100, lb_port=20101, stats_port=20102, redis_port=20103))
    files = planning.write(plan)
    reg = load(files["registry"])
    assert [(i.id, i.port) for i in reg.instances] == [("tiny-gpt2-1", 20000), ("tiny-gpt2-2", 20001),
                                                        ("tiny-llama-1", 20002)]
    conf = configparser.RawConfigParser()
    conf.read(files["supervisord"])
    names = [s.split(":", 1)[1] for s in conf.sections() if s.startswith("program:")]
    assert names == ["redis", "tiny-gpt2-1", "tiny-gpt2-2", "tiny-llama-1", "haproxy", "web", "status"]
    gpt2 = conf["program:tiny-gpt2-2"]
    assert "--port 20001" in gpt2["command"] and f"--registry {files['registry']}" in gpt2["command"]
    assert gpt2["autorestart"] == "true" and conf["program:status"]["autorestart"] == "false"
    assert gpt2["stdout_logfile"] == str(tmp_path / "var" / "log" / "tiny-gpt2-2.log")
    assert "server tiny-gpt2-2 127.0.0.1:20001 check" in files["haproxy"].read_text()
    env = dict(line.split("=", 1) for line in files["env"].read_text().splitlines())
    assert env["WRITEUP_UPSTREAM"] == "http://127.0.0.1:20101"
    assert env["REDIS_URL"] == "redis://127.0.0.1:20103/0"
    assert env["WRITEUP_LB_STATS_URL"] == "http://127.0.0.1:20102/stats"
    assert env["WRITEUP_TRUSTED_PROXIES"] == "127.0.0.1"
    assert "DJANGO_SECRET_KEY" not in env  # the key stays in var/secret_key, mode 600
    status = yaml.safe_load(files["status"].read_text())
    assert status["url"] == "http://127.0.0.1:20100/"
    assert [s["name"] for s in status["skipped"]] == ["missing-1"]


def test_busy_ports_are_found(tmp_path, tiny_registry):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        plan = planning.make_plan(settings(tmp_path, tiny_registry, lb_port=taken, web_port=free_port(),
                                           stats_port=free_port(), redis_port=free_port(),
                                           instance_port_base=free_port()))
        assert taken in planning.busy_ports(plan)
        assert planning.busy_ports(planning.make_plan(settings(tmp_path, tiny_registry, counts={"tiny-gpt2": 0}, web=False,
            lb_port=free_port(), stats_port=free_port(), redis_port=free_port(), instance_port_base=free_port()))) == []
