"""The adapters committed under adapters/ keep the contract the engine and the issue set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from genres.finetune import LLAMA_PROJECTIONS
from contract import registry

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent for p in (REPO / "adapters").glob("*/adapter_config.json"))


def test_at_least_four_genres_ship():
    assert len(SHIPPED) >= 4


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_adapter(folder):
    cfg = json.loads((folder / "adapter_config.json").read_text())
    # Plain LoRA on Llama projection names: what the engine's LoRA banks apply.
    assert cfg["peft_type"] == "LORA" and not cfg["use_dora"] and not cfg["use_rslora"] and cfg["bias"] == "none"
    assert set(cfg["target_modules"]) <= set(LLAMA_PROJECTIONS) and cfg["r"] in (4, 8, 16)
    assert (folder / "adapter_model.safetensors").stat().st_size < 8_000_000
    with safe_open(folder / "adapter_model.safetensors", "pt") as f:
        assert all(".lora_A." in k or ".lora_B." in k for k in f.keys())

    record = json.loads((folder / "training.json").read_text())
    assert record["reduction"] >= 0.20, f"{folder.name}: validation perplexity only {100 * record['reduction']:.1f}% lower"
    card = (folder / "README.md").read_text()
    assert f"{record['base_ppl']:.2f}" in card and f"{record['ppl']:.2f}" in card and record["source"]["license"] in card

    reg = registry.load(REPO / "config" / "models.yaml")
    model = reg.model(folder.name)
    assert model.base == "smollm2" and model.resolve(model.adapter.path) == folder
    assert any(folder.name in inst.routes for inst in reg.instances_for("smollm2"))
