"""Many LoRA genres on one model copy: a mixed batch gives each request exactly
what transformers + peft give for that adapter alone; merged instances too."""
import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from microservices.engine import adapters
from microservices.engine.loader import load_model, load_tokenizer
from microservices.engine.engine import Engine
from tests.microservices.conftest import Collector

PROMPT = "The ship sailed north until"
TARGETS = {"llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
           "gpt2": ["c_attn", "c_proj", "c_fc"]}


def make_adapter(base_dir, out, seed, r, targets, **lora):
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False,
                     fan_in_fan_out="c_attn" in targets, **lora)
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.mul_(3.0)  # strong enough to change greedy choices
    model.save_pretrained(out)
    return out


def peft_greedy(base_dir, adapter_dir, n):
    tok = load_tokenizer(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    if adapter_dir:
        model = PeftModel.from_pretrained(model, adapter_dir)
    ids = tok(PROMPT, return_tensors="pt", add_special_tokens=False).input_ids
    out = model.generate(input_ids=ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True, clean_up_tokenization_spaces=False)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_mixed_batch_matches_each_adapter_alone(tiny_dir, tmp_path, arch):
    base_dir = tiny_dir / f"tiny-{arch}"
    a1 = make_adapter(base_dir, tmp_path / "a1", 1, 4, TARGETS[arch])
    a2 = make_adapter(base_dir, tmp_path / "a2", 2, 8, TARGETS[arch][:2])  # other rank, fewer modules
    model = load_model(base_dir, "cpu")
    adapters.install(model, [a1, a2])
    engine = Engine(model, load_tokenizer(base_dir), routes={"base": 0, "one": 1, "two": 2}, max_batch=8,
                    context=256, prefix_cache_mb=16, n_adapters=2)
    engine.start()
    try:
        c = Collector(engine)
        reqs = [c.request(f"{route}{i}", PROMPT, route=route, max_tokens=12, temperature=0)
                for i in range(2) for route in ("base", "one", "two")]
        out = c.collect(reqs)
        expect = {"base": peft_greedy(base_dir, None, 12), "one": peft_greedy(base_dir, a1, 12),
                  "two": peft_greedy(base_dir, a2, 12)}
        assert len(set(expect.values())) == 3  # the adapters really change the output
        for route in ("base", "one", "two"):
            for i in range(2):
                assert out[f"{route}{i}"]["texts"][0] == expect[route], route
        # the prefix cache is keyed by adapter: another genre never reuses this one's KV
        long = PROMPT + " the coast fell away behind them and the sea turned grey and cold" * 3
        c.run("p1", long, route="one", max_tokens=2)
        assert c.run("p2", long, route="two", max_tokens=2)["usage"][0]["cached_tokens"] == 0
        assert c.run("p3", long, route="one", max_tokens=2)["usage"][0]["cached_tokens"] > 0
    finally:
        engine.stop()


def test_merged_adapter_matches_peft(tiny_dir, tmp_path):
    base_dir = tiny_dir / "tiny-llama"
    a1 = make_adapter(base_dir, tmp_path / "a1", 1, 4, TARGETS["llama"])
    model = load_model(base_dir, "cpu")
    adapters.merge(model, a1)
    engine = Engine(model, load_tokenizer(base_dir), routes={"one": 0}, max_batch=2, context=256, prefix_cache_mb=0)
    engine.start()
    try:
        text = Collector(engine).run("m", PROMPT, max_tokens=12, temperature=0)["texts"][0]
        assert text == peft_greedy(base_dir, a1, 12)
    finally:
        engine.stop()


def test_adapter_folder_errors(tmp_path, tiny_dir):
    model = load_model(tiny_dir / "tiny-llama", "cpu")
    with pytest.raises(adapters.AdapterError, match="adapter_config.json"):
        adapters.install(model, [tmp_path])


@pytest.mark.parametrize("extra, message", [
    (dict(targets=["q_proj", "lm_head"]), r"would ignore \[.*lm_head\.lora_A"),
    (dict(targets=["q_proj", "embed_tokens"]), r"would ignore \[.*embed_tokens\.lora_embedding_A"),
    (dict(targets=["q_proj"], modules_to_save=["lm_head"]), r"modules_to_save \['lm_head'\]"),
], ids=["lm_head", "embeddings", "modules_to_save"])
def test_adapters_with_weights_the_engine_would_ignore_are_refused(tiny_dir, tmp_path, extra, message):
    # Loading one and dropping those weights would serve a model other than the trained one.
    targets = extra.pop("targets")
    folder = make_adapter(tiny_dir / "tiny-llama", tmp_path / "a", seed=1, r=4, targets=targets, **extra)
    model = load_model(tiny_dir / "tiny-llama", "cpu")
    with pytest.raises(adapters.AdapterError, match=message):
        adapters.install(model, [folder])
    with pytest.raises(adapters.AdapterError, match=message):
        adapters.merge(model, folder)
