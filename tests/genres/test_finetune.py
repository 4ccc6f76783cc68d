"""Fine-tuning on a tiny Llama: loss goes down, held-out perplexity too, the adapter loads, resume is exact."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genres import finetune, perplexity
from tests.genres.tiny import tiny_llama

REPO = Path(__file__).resolve().parents[2]
SMOLLM2 = REPO / "models" / "smollm2-135m"
TEXT = ("When shall we three meet again\nIn thunder, lightning, or in rain?\n"
        "When the hurlyburly's done,\nWhen the battle's lost and won.\n\n")
# Validation is held out: lines never trained on, in the same words, so a lower
# perplexity means the adapter learned the text's language, not the text.
HELD_OUT = ("When the rain is done,\nIn thunder shall we three meet again?\n"
            "When the lightning's lost and won,\nOr in the hurlyburly, or in rain.\n\n")

pytestmark = pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").exists(), reason="needs models/smollm2-135m (scripts/setup)")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 Llama with SmolLM2's tokenizer, and a matching corpus."""
    root = tmp_path_factory.mktemp("genres-tiny")
    tiny_llama(root / "model", max_positions=256)
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text(TEXT * 40)
    assert not {line for line in HELD_OUT.splitlines() if line} & set(TEXT.splitlines())
    (corpus / "valid.txt").write_text(HELD_OUT * 6)
    (corpus / "source.json").write_text(json.dumps({"genre": "witches", "title": "Witches", "license": "CC0-1.0",
                                                    "packages": [], "sha256": {"valid": "fixture"}}))
    return root


def settings(tiny: Path, name: str, **kw) -> finetune.Settings:
    base = dict(genre="witches", steps=12, seed=3, batch_size=4, seq_len=32, lr=1e-2, warmup=2, rank=4, alpha=8,
                save_every=4, eval_windows=4, eval_len=32, threads=1, dtype="float32", base_path=str(tiny / "model"),
                corpus_dir=str(tiny / "corpus"), out_dir=str(tiny / name / "adapter"), work_dir=str(tiny / name / "work"))
    return finetune.Settings(**{**base, **kw})


def test_lora_lowers_loss_and_saves_a_loadable_adapter(tiny):
    s = settings(tiny, "plain", sample_prompt="When shall we", sample_tokens=5)
    result = finetune.train(s, progress=False)
    assert result.steps == 12 and result.tokens_seen == 12 * 4 * 32
    assert sum(result.losses[-3:]) / 3 < sum(result.losses[:3]) / 3
    assert result.ppl < result.base_ppl

    out = Path(s.out_dir)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    assert cfg["use_dora"] is False and cfg["use_rslora"] is False and cfg["bias"] == "none"
    assert cfg["target_modules"] == sorted(finetune.LLAMA_PROJECTIONS)
    assert all(v.dtype == torch.float16 for v in load_file(out / "adapter_model.safetensors").values())
    card = (out / "README.md").read_text()
    assert "Validation perplexity" in card and f"{result.base_ppl:.2f}" in card and "CC0-1.0" in card

    # A fresh process's view: base + PeftModel.from_pretrained gives the trained perplexity.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(s.base_path)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(s.base_path), str(out))
    wins = perplexity.windows(perplexity.tokenize(tok, (tiny / "corpus" / "valid.txt").read_text()), 32, 4)
    assert perplexity.perplexity(model, wins) == pytest.approx(result.ppl, rel=1e-4)
    weights = load_file(out / "adapter_model.safetensors")
    assert any(".lora_B." in k and v.abs().sum() > 0 for k, v in weights.items())


def test_resume_matches_an_uninterrupted_run(tiny):
    straight = finetune.train(settings(tiny, "straight"), progress=False)
    s = settings(tiny, "resumed")
    assert finetune.train(s, stop_after=6, progress=False) is None  # "killed" after the step-6 checkpoint
    assert not Path(s.out_dir).exists()
    resumed = finetune.train(s, resume=True, progress=False)
    assert resumed.losses == straight.losses
    a = load_file(Path(settings(tiny, "straight").out_dir) / "adapter_model.safetensors")
    b = load_file(Path(s.out_dir) / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_extending_a_finished_run_equals_a_longer_fresh_run(tiny):
    straight = finetune.train(settings(tiny, "straight-10", steps=10), progress=False)
    s = settings(tiny, "extended", steps=6)
    finetune.train(s, progress=False)
    extended = finetune.train(settings(tiny, "extended", steps=10), resume=True, progress=False)
    assert extended.steps == 10 and extended.losses == straight.losses
    assert extended.ppl == pytest.approx(straight.ppl, rel=1e-6)


def test_resume_refuses_a_checkpoint_from_other_settings(tiny):
    finetune.train(settings(tiny, "other"), stop_after=4, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        finetune.train(settings(tiny, "other", lr=5e-3), resume=True, progress=False)


def test_bf16_training_tracks_fp32_and_ships_fp32_loadable_weights(tiny):
    fp32 = finetune.train(settings(tiny, "fp32-curve"), progress=False)
    s = settings(tiny, "bf16-curve", dtype="bfloat16")
    bf16 = finetune.train(s, progress=False)
    assert bf16.settings["train_dtype"] == "bfloat16" and fp32.settings["train_dtype"] == "float32"
    # Same batches, same seed: the loss curve follows fp32's to bf16's precision, and learns as much.
    assert bf16.losses != fp32.losses
    for a, b in zip(bf16.losses, fp32.losses):
        assert a == pytest.approx(b, rel=0.03)
    assert bf16.ppl < bf16.base_ppl and bf16.ppl == pytest.approx(fp32.ppl, rel=0.05)
    # The LoRA factors stay fp32 in training (autocast), ship as fp16, and serve on fp32 weights.
    assert all(v.dtype == torch.float16 for v in load_file(Path(s.out_dir) / "adapter_model.safetensors").values())
    with pytest.raises(ValueError, match="other settings"):  # a resume may not switch precision mid-run
        finetune.train(settings(tiny, "bf16-curve", dtype="float32", steps=14), resume=True, progress=False)


def test_auto_dtype_takes_bf16_only_where_matmuls_are_native(monkeypatch):
    from microservices.engine import loader

    s = finetune.Settings(genre="x", dtype="auto")
    monkeypatch.setattr(loader, "cpu_bf16_matmul", lambda: None)  # AVX2: bf16 is emulated, slower than fp32
    assert finetune.train_dtype(s, torch.device("cpu")) == torch.float32
    monkeypatch.setattr(loader, "cpu_bf16_matmul", lambda: "amx")
    assert finetune.train_dtype(s, torch.device("cpu")) == torch.bfloat16
    assert finetune.train_dtype(finetune.Settings(genre="x", dtype="float32"), torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match="float32, bfloat16 or auto"):
        finetune.train_dtype(finetune.Settings(genre="x", dtype="fp8"), torch.device("cpu"))


def test_batches_depend_only_on_seed_and_step(tiny):
    ids = torch.arange(1000)
    s = settings(tiny, "batches")
    assert torch.equal(finetune.batch_at(ids, s, 7), finetune.batch_at(ids, s, 7))
    assert not torch.equal(finetune.batch_at(ids, s, 7), finetune.batch_at(ids, s, 8))


def test_perplexity_windows_spread_and_fit():
    ids = torch.arange(10_000)
    w = perplexity.windows(ids, 100, 5)
    assert w.shape == (5, 100) and w[0, 0] == 0 and w[-1, -1] == 9_999
    assert perplexity.windows(torch.arange(250), 100, 64).shape == (2, 100)
    with pytest.raises(ValueError):
        perplexity.windows(torch.arange(50), 100, 4)


def test_full_fine_tune_writes_a_loadable_model(tiny):
    from transformers import AutoModelForCausalLM

    s = settings(tiny, "full", full=True, steps=6, lr=3e-3)
    result = finetune.train(s, progress=False)
    assert result.ppl < result.base_ppl
    model = AutoModelForCausalLM.from_pretrained(s.out_dir)
    assert model.config.hidden_size == 32 and (Path(s.out_dir) / "README.md").exists()
    assert "full fine-tune" in (Path(s.out_dir) / "README.md").read_text()


def test_cli_perplexity_and_table(tiny, capsys):
    from genres.__main__ import main

    s = settings(tiny, "cli", steps=4)
    result = finetune.train(s, progress=False)
    assert main(["perplexity", "witches", "--base-path", s.base_path, "--corpus-dir", s.corpus_dir, "--adapter", s.out_dir,
                 "--eval-windows", "4", "--eval-len", "32", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"base: {result.base_ppl:.2f}" in out and f": {result.ppl:.2f}" in out
    assert main(["table", "--adapters", str(tiny / "cli")]) == 0
    assert f"| {result.base_ppl:.2f} | {result.ppl:.2f} |" in capsys.readouterr().out


def test_time_budget_and_curve_ship_the_best_point(tiny):
    # A budget this small is spent after the first step: the run stops by budget.
    s = settings(tiny, "budget", steps=1000, minutes=1e-6, eval_every=2, curve_windows=2)
    result = finetune.train(s, progress=False)
    assert result.stopped == "budget" and result.steps == 1
    assert [c["step"] for c in result.curve] == [0, 1]
    # The budget was spent before the first step: the annealed rate is at its floor (10%), after warm-up's 1/3.
    assert result.curve[1]["lr"] == pytest.approx(1e-2 / 3 * 0.1, rel=1e-2)
    flat = finetune.train(settings(tiny, "budget-flat", steps=1000, minutes=1e-6, eval_every=2, curve_windows=2,
                                   anneal=False), progress=False)
    assert flat.curve[1]["lr"] == pytest.approx(1e-2 / 3, rel=1e-2)

    s = settings(tiny, "curve", steps=12, eval_every=4, curve_windows=2, lr=3e-2)
    result = finetune.train(s, progress=False)
    assert result.stopped == "steps" and [c["step"] for c in result.curve] == [0, 4, 8, 12]
    best = min(result.curve, key=lambda c: c["ppl"])
    assert result.best_step == best["step"]
    record = json.loads((Path(s.out_dir) / "training.json").read_text())
    assert record["curve"] == result.curve and record["best_step"] == result.best_step
    card = (Path(s.out_dir) / "README.md").read_text()
    assert "Validation curve" in card and f"| {best['step']} (shipped) |" in card and "sha256" in card


def test_annealing_is_a_cosine_from_full_rate_to_a_tenth():
    points = [finetune._annealed(f / 10) for f in range(11)]
    assert points[0] == 1.0 and points[-1] == pytest.approx(0.1) and points[5] == pytest.approx(0.55)
    assert all(a > b for a, b in zip(points, points[1:]))
    assert finetune._annealed(3.0) == pytest.approx(0.1)  # past the budget (the last step's overrun)


def test_curve_survives_a_resume(tiny):
    straight = finetune.train(settings(tiny, "curve-straight", eval_every=4, curve_windows=2), progress=False)
    s = settings(tiny, "curve-resumed", eval_every=4, curve_windows=2)
    assert finetune.train(s, stop_after=6, progress=False) is None
    resumed = finetune.train(s, resume=True, progress=False)
    assert [(c["step"], c["ppl"]) for c in resumed.curve] == [(c["step"], c["ppl"]) for c in straight.curve]
    assert resumed.best_step == straight.best_step and resumed.ppl == pytest.approx(straight.ppl, rel=1e-6)
