"""The registry: the shipped file is valid, and mistakes get readable errors."""
import copy

import pytest
import yaml

from contract import registry
from contract.registry import RegistryError, parse
from microservices import weights
from tests.support.tiny_models import tiny_registry_data


def test_shipped_registry_is_valid():
    reg = registry.load(registry.DEFAULT_REGISTRY)
    assert "smollm2" in reg.models and reg.instances_for("smollm2")
    for inst in reg.instances:
        assert inst.routes


def test_defaults_merge_into_limits(tmp_path):
    reg = parse(tiny_registry_data(tmp_path))
    assert reg.models["tiny-gpt2"].limits.max_new_tokens == 64
    assert reg.models["tiny-gpt2"].limits.max_queue == 16


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["models"].update({"Bad Route": d["models"]["tiny-gpt2"]}), "must be lowercase"),
    (lambda d: d["models"].update({"v1": d["models"]["tiny-gpt2"]}), "must be lowercase"),
    (lambda d: d["models"]["tiny-gpt2"].update({"source": {"kind": "local"}}), "needs path"),
    (lambda d: d["models"]["tiny-gpt2"].update({"source": {"kind": "ftp", "path": "x"}}), "source.kind"),
    (lambda d: d["models"]["tiny-gpt2"].update({"limits": {"max_n": 0}}), "max_n"),
    (lambda d: d["models"]["tiny-gpt2"].update({"colour": "red"}), "colour"),
    (lambda d: d["models"]["tiny-gpt2"].update({"limits": {"max_n": 4, "max_batch": 2}}), r"max_n \(4\) exceeds .*max_batch 2"),
    (lambda d: d["models"]["tiny-gpt2"].update({"limits": {"max_batch": 2}}), r"max_n \(4\) exceeds .*max_batch 2"),
    # an adapter route runs in its base's batch: its own max_n is checked against the base's max_batch
    (lambda d: (d["models"]["tiny-llama"].update({"limits": {"max_n": 2, "max_batch": 2}}),
                d["models"].update({"g": {"name": "G", "base": "tiny-llama", "adapter": {"path": "a"}}})),
     r"model 'g': limits.max_n \(4\) exceeds .*max_batch 2"),
    (lambda d: d["models"].update({"g": {"name": "G", "adapter": {"path": "a"}}}), "no `base:`"),
    (lambda d: d["models"].update({"g": {"name": "G", "base": "nope", "adapter": {"path": "a"}}}), "not a base model"),
    (lambda d: d["instances"].append({"id": "x", "port": 1, "routes": ["ghost"]}), "unknown routes"),
    (lambda d: d["instances"].append({"id": "x", "port": 1, "routes": ["tiny-gpt2", "tiny-llama"]}), "mixes base models"),
    (lambda d: d["instances"].append(dict(d["instances"][0])), "unique"),
    (lambda d: d["instances"].append({"id": "y", "port": 99999, "routes": ["tiny-gpt2"]}), "port"),
])
def test_invalid_registries_are_explained(tmp_path, mutate, message):
    data = copy.deepcopy(tiny_registry_data(tmp_path))
    mutate(data)
    with pytest.raises(RegistryError, match=message):
        parse(data, "test.yaml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RegistryError, match="not found"):
        registry.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed")
    with pytest.raises(RegistryError, match="not valid YAML"):
        registry.load(bad)


def test_unavailable_sources_are_reported_not_raised(tiny_registry):
    reg = registry.load(tiny_registry)
    ok, why = weights.availability(reg.models["missing"])
    assert not ok and "no model files" in why
    assert weights.availability(reg.models["tiny-gpt2"]) == (True, "ready")
    shipped = registry.load(registry.DEFAULT_REGISTRY)
    ok, why = weights.availability(shipped.models["gpt2"])
    if not ok:  # the normal case on machines without the Hugging Face cache
        assert "Hugging Face cache" in why
