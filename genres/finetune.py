"""Fine-tune a registry base model on a genre corpus: LoRA by default, full optional.

Determinism: every batch is drawn from a generator seeded by (seed, step), and the
global RNG (LoRA dropout) is saved in each checkpoint, so a resumed run takes the
same batches and the same dropout masks as one that never stopped.

Budget and curve: `minutes` stops a run when its time (training steps plus curve
evaluations) is spent; `eval_every` measures perplexity on a fixed subset of the
validation windows every N steps. The curve goes into the card, and the weights
at the curve's lowest point are the ones measured and shipped.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from genres import card, corpora, perplexity

REPO_ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = REPO_ROOT / "var" / "finetune"
# The engine applies these adapters itself for batched multi-adapter serving, so they
# stay plain LoRA (no DoRA, rsLoRA or bias) on the Llama projection names.
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Adapters ship in fp16: half the size of fp32 (r=8 on all seven projections of
# SmolLM2 is 2.4M parameters: 4.9 MB instead of 9.8), and LoRA factors are small,
# well inside fp16's range.
SAVE_DTYPE = torch.float16


@dataclass
class Settings:
    genre: str
    steps: int = 60
    seed: int = 0
    batch_size: int = 4
    seq_len: int = 256
    lr: float | None = None  # default: 2e-3 for LoRA, 5e-5 for full
    warmup: int = 5
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = LLAMA_PROJECTIONS
    full: bool = False
    save_every: int = 10
    eval_windows: int = 64
    eval_len: int = 256
    threads: int = 2
    base: str = "smollm2"  # registry route of the base model
    base_path: str | None = None  # a model folder instead of the registry's (tests)
    corpus_dir: str | None = None
    out_dir: str | None = None
    work_dir: str | None = None
    sample_prompt: str | None = None
    sample_tokens: int = 30
    minutes: float | None = None  # time budget; `steps` is then only a cap
    eval_every: int = 0  # curve point every N steps (0: no curve, ship the last step)
    curve_windows: int = 16  # the fixed subset of validation windows the curve is measured on
    anneal: bool = True  # with `minutes`: cosine-decay the learning rate to 10% over the budget
    dtype: str = "auto"  # training matmuls: "float32", "bfloat16", or "auto" (bf16 where the hardware has it)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (5e-5 if self.full else 2e-3)

    def paths(self) -> tuple[Path, Path, Path]:
        corpus = Path(self.corpus_dir) if self.corpus_dir else corpora.corpus_dir(self.genre)
        default_out = (REPO_ROOT / "models" / self.genre) if self.full else (REPO_ROOT / "adapters" / self.genre)
        out = Path(self.out_dir) if self.out_dir else default_out
        work = Path(self.work_dir) if self.work_dir else WORK_DIR / self.genre
        return corpus, out, work

    def identity(self) -> dict:
        """What must match for a checkpoint to be resumed into this run."""
        keep = ("genre", "seed", "batch_size", "seq_len", "lr", "warmup", "rank", "alpha", "dropout",
                "targets", "full", "base", "base_path")
        d = asdict(self)
        identity = {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in keep}
        dtype = train_dtype(self, pick_device())
        if dtype != torch.float32:  # absent for fp32, so checkpoints from before the setting still resume
            identity["dtype"] = str(dtype).removeprefix("torch.")
        return identity


@dataclass
class Result:
    settings: dict
    base_ppl: float
    ppl: float
    steps: int
    tokens_seen: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    sample: str = ""
    base_sample: str = ""
    curve: list[dict] = field(default_factory=list)  # {"step", "seconds", "ppl", "lr"} on the curve windows
    best_step: int | None = None  # the step whose weights ship (None: the last)
    eval_seconds: float = 0.0
    stopped: str = "steps"  # "steps" or "budget"

    @property
    def reduction(self) -> float:
        return 1.0 - self.ppl / self.base_ppl


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_dtype(s: Settings, device: torch.device) -> torch.dtype:
    """The dtype of the training step's matmuls. Weights, LoRA factors, optimizer
    state and the loss stay fp32 (autocast): bf16 only speeds up the matmuls.
    `auto` takes bf16 on CUDA and on CPUs with native bf16 matmuls (AMX, AVX-512
    BF16: a LoRA step 1.9x faster on a 2-core AMX Xeon, docs/genres.md); on AVX2
    bf16 is emulated and slower than fp32, so fp32 stays."""
    if s.dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        from microservices.engine.loader import cpu_bf16_matmul

        return torch.bfloat16 if cpu_bf16_matmul() else torch.float32
    if s.dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be float32, bfloat16 or auto, not {s.dtype!r}")
    return getattr(torch, s.dtype)


def base_folder(s: Settings) -> str:
    """The base model's weights: a folder, or a Hugging Face id for hub-sourced routes."""
    if s.base_path:
        return s.base_path
    from contract import registry

    model = registry.load().model(s.base)
    if model.base or not model.source:
        raise ValueError(f"{s.base!r} is an adapter route; fine-tune its base {model.base!r} instead")
    src = model.source
    return src.id if src.kind == "huggingface" else str(model.resolve(src.path))


def load_model(s: Settings, device: torch.device):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = base_folder(s)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    torch.manual_seed(s.seed)  # LoRA's A matrices are drawn from the global RNG
    if s.full:
        model.train()
        return model, tokenizer
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=list(s.targets),
        bias="none", use_dora=False, use_rslora=False, task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    model.train()
    return model, tokenizer


def batch_at(ids: torch.Tensor, s: Settings, step: int) -> torch.Tensor:
    """The training batch for `step`: random windows, a pure function of (seed, step)."""
    g = torch.Generator().manual_seed(s.seed * 1_000_003 + step)
    starts = torch.randint(0, len(ids) - s.seq_len, (s.batch_size,), generator=g)
    return torch.stack([ids[i : i + s.seq_len] for i in starts.tolist()])


def _lr_lambda(s: Settings):
    # Linear warm-up, then constant: the schedule never looks at the total step count,
    # so `--resume --steps M` after an N-step run is exactly a fresh M-step run.
    def f(step: int) -> float:
        return (step + 1) / (s.warmup + 1) if step < s.warmup else 1.0
    return f


def _annealed(fraction: float) -> float:
    # A budget-length cosine from 1 to 0.1: the last steps refine instead of jumping
    # around, so the best point is usually near the end and a fixed budget lands lower.
    fraction = min(max(fraction, 0.0), 1.0)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * fraction))


def _round_adapter(model, dtype: torch.dtype) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(p.to(dtype).float())


def _trainable_state(model, full: bool) -> dict[str, torch.Tensor]:
    if full:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def _load_trainable_state(model, state: dict, full: bool) -> None:
    if full:
        model.load_state_dict(state)
        return
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state)
    if getattr(result, "unexpected_keys", None):
        raise RuntimeError(f"checkpoint has keys this model lacks: {result.unexpected_keys[:3]}")


def save_checkpoint(work: Path, model, optimizer, scheduler, s: Settings, progress: dict,
                    best: dict | None = None) -> None:
    """Write the checkpoint beside the old one, then swap, so a kill never leaves half of one."""
    tmp, final = work / "checkpoint.tmp", work / "checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(_trainable_state(model, s.full), tmp / "weights.pt")
    if best is not None:  # the curve's best weights so far
        torch.save(best, tmp / "best.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    rng = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    torch.save({"scheduler": scheduler.state_dict(), "rng": rng, "settings": s.identity(), **progress}, tmp / "state.pt")
    old = work / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(work: Path, model, optimizer, scheduler, s: Settings) -> dict | None:
    path = work / "checkpoint"
    if not (path / "state.pt").exists():
        path = work / "checkpoint.old"  # killed between the two renames
        if not (path / "state.pt").exists():
            return None
    state = torch.load(path / "state.pt", weights_only=False)
    if state["settings"] != s.identity():
        diff = {k: (state["settings"].get(k), v) for k, v in s.identity().items() if state["settings"].get(k) != v}
        raise ValueError(f"checkpoint in {path} was made with other settings {diff}; drop --resume or delete it")
    _load_trainable_state(model, torch.load(path / "weights.pt"), s.full)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt"))
    scheduler.load_state_dict(state["scheduler"])
    state["best_weights"] = torch.load(path / "best.pt") if (path / "best.pt").exists() else None
    return state


def _restore_rng(rng: dict) -> None:
    torch.set_rng_state(rng["cpu"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _cached_base_ppl(work: Path, key: dict, compute) -> float:
    """The base model's validation perplexity, computed once per (base, validation text, windows)."""
    path = work / "base_ppl.json"
    try:
        saved = json.loads(path.read_text())
        if saved["key"] == key:
            return saved["ppl"]
    except (OSError, ValueError, KeyError):
        pass
    ppl = compute()
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "ppl": ppl}))
    return ppl


def sample(model, tokenizer, prompt: str, tokens: int, seed: int) -> str:
    """A seeded sampled continuation, the way a writer would see one."""
    device = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=tokens, do_sample=True, temperature=0.7, top_k=40, top_p=0.95,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    model.train(was_training)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def train(s: Settings, resume: bool = False, stop_after: int | None = None, progress: bool = True) -> Result | None:
    """Run (or continue) one fine-tune; write the adapter folder and model card.

    `stop_after` ends the run early after a checkpoint at that step (used to test
    resuming); it returns None then and writes no adapter.
    """
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(s.threads)
    corpus, out, work = s.paths()
    source = json.loads((corpus / "source.json").read_text()) if (corpus / "source.json").exists() else {}
    model, tokenizer = load_model(s, device)
    dtype = train_dtype(s, device)
    train_ids = perplexity.tokenize(tokenizer, (corpus / "train.txt").read_text(encoding="utf-8"))
    valid_ids = perplexity.tokenize(tokenizer, (corpus / "valid.txt").read_text(encoding="utf-8"))
    if len(train_ids) <= s.seq_len:
        raise ValueError(f"{corpus / 'train.txt'} has only {len(train_ids)} tokens; need more than {s.seq_len}")
    wins = perplexity.windows(valid_ids, s.eval_len, s.eval_windows)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=s.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(s))
    state = load_checkpoint(work, model, optimizer, scheduler, s) if resume else None
    if resume and state is None:
        print(f"no checkpoint in {work}; starting from step 0", flush=True)

    base_key = {"base": s.base, "base_path": s.base_path, "valid_sha": source.get("sha256", {}).get("valid"),
                "windows": list(wins.shape), "valid_tokens": len(valid_ids)}
    train_sha = source.get("sha256", {}).get("train")
    if state and state.get("train_sha", train_sha) != train_sha:
        raise ValueError(f"checkpoint in {work} was trained on another version of {corpus / 'train.txt'}; drop --resume")
    if state:
        base_ppl = state["base_ppl"]
    else:
        # With LoRA's B at zero (or before any full update) the model is the base model.
        base_ppl = _cached_base_ppl(work, base_key, lambda: perplexity.perplexity(model, wins))
    step = state["step"] if state else 0
    losses: list[float] = state["losses"] if state else []
    seconds = state["seconds"] if state else 0.0
    base_sample = state.get("base_sample", "") if state else ""
    prompt = s.sample_prompt
    if prompt and not base_sample:
        base_sample = sample(model, tokenizer, prompt, s.sample_tokens, s.seed)

    # The curve's windows: a fixed, evenly spread subset of the validation windows.
    curve_wins = perplexity.windows(valid_ids, s.eval_len, min(s.curve_windows, len(wins))) if s.eval_every else None
    curve: list[dict] = state.get("curve", []) if state else []
    eval_seconds = state.get("eval_seconds", 0.0) if state else 0.0
    best = state.get("best_weights") if state else None
    best_step = state.get("best_step") if state else None
    if curve_wins is not None and not curve:
        t0 = time.perf_counter()
        curve.append({"step": 0, "seconds": 0.0, "ppl": round(perplexity.perplexity(model, curve_wins), 3)})
        eval_seconds += time.perf_counter() - t0
    budget = s.minutes * 60 if s.minutes else None

    def spent() -> float:
        return seconds + eval_seconds

    # Dropout masks come from the global RNG: seeded fresh, or as the checkpoint left it.
    if state:
        _restore_rng(state["rng"])
    else:
        torch.manual_seed(s.seed)
    bar = tqdm(total=s.steps, initial=step, desc=f"{s.genre} {'full' if s.full else 'lora'}", unit="step",
               disable=not progress, dynamic_ncols=True)
    stopped = "steps"
    while step < s.steps:
        if budget is not None and spent() >= budget and step > 0:  # at least one step, whatever the budget
            stopped = "budget"
            break
        t0 = time.perf_counter()
        batch = batch_at(train_ids, s, step).to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if budget is not None and s.anneal:
            for group, base_lr, warm in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
                group["lr"] = base_lr * warm(step) * _annealed(spent() / budget)
        step_lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seconds += time.perf_counter() - t0
        losses.append(round(loss.item(), 4))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", tok_s=f"{step * s.batch_size * s.seq_len / max(seconds, 1e-9):.0f}")
        last = step == s.steps or (budget is not None and spent() >= budget)
        if curve_wins is not None and (step % s.eval_every == 0 or last):
            t0 = time.perf_counter()
            point = {"step": step, "seconds": round(seconds, 1), "ppl": round(perplexity.perplexity(model, curve_wins), 3),
                     "lr": float(f"{step_lr:.3g}")}
            eval_seconds += time.perf_counter() - t0
            curve.append(point)
            if point["ppl"] <= min(c["ppl"] for c in curve):
                best, best_step = _trainable_state(model, s.full), step
            bar.set_postfix(loss=f"{losses[-1]:.3f}", curve_ppl=f"{point['ppl']:.2f}")
        if step % s.save_every == 0 or last or step == stop_after:
            save_checkpoint(work, model, optimizer, scheduler, s, {"step": step, "losses": losses, "seconds": seconds,
                                                                     "base_ppl": base_ppl, "base_sample": base_sample,
                                                                     "train_sha": train_sha, "curve": curve,
                                                                     "eval_seconds": eval_seconds, "best_step": best_step},
                            best)
        if stop_after is not None and step >= stop_after:
            bar.close()
            return None
    bar.close()

    if best is not None and best_step != step:  # the curve's lowest point, not the last step, ships
        _load_trainable_state(model, best, s.full)
    if not s.full:
        _round_adapter(model, SAVE_DTYPE)  # measure exactly the weights that get shipped
    ppl = perplexity.perplexity(model, wins)
    text = sample(model, tokenizer, prompt, s.sample_tokens, s.seed) if prompt else ""
    result = Result(settings={**asdict(s), "targets": list(s.targets), "learning_rate": s.learning_rate,
                              "device": device.type, "train_dtype": str(dtype).removeprefix("torch."), "eval_windows": int(wins.shape[0]),
                              "curve_windows": int(curve_wins.shape[0]) if curve_wins is not None else 0},
                    base_ppl=base_ppl, ppl=ppl, steps=step, tokens_seen=step * s.batch_size * s.seq_len,
                    seconds=round(seconds, 1), losses=losses, sample=text, base_sample=base_sample,
                    curve=curve, best_step=best_step if best is not None else None,
                    eval_seconds=round(eval_seconds, 1), stopped=stopped)
    save_output(model, tokenizer, s, out, result, source)
    return result


def save_output(model, tokenizer, s: Settings, out: Path, result: Result, source: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if s.full:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    else:
        model.save_pretrained(tmp)
        weights = tmp / "adapter_model.safetensors"
        save_file({k: v.to(SAVE_DTYPE) for k, v in load_file(weights).items()}, weights, metadata={"format": "pt"})
        cfg_path = tmp / "adapter_config.json"
        cfg = json.loads(cfg_path.read_text())
        # peft records the absolute folder it loaded from; a repo-relative path (or the
        # hub id) keeps the folder meaningful on other machines.
        cfg["base_model_name_or_path"] = repo_relative(base_folder(s))
        cfg["target_modules"] = sorted(cfg["target_modules"])  # peft writes a set in random order
        cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    record = {"base": s.base, "base_ppl": result.base_ppl, "ppl": result.ppl, "reduction": result.reduction,
              "steps": result.steps, "tokens_seen": result.tokens_seen, "train_seconds": result.seconds,
              "eval_seconds": result.eval_seconds, "stopped": result.stopped, "curve": result.curve,
              "best_step": result.best_step,
              "losses": result.losses, "sample_prompt": s.sample_prompt, "sample": result.sample,
              "base_sample": result.base_sample, "settings": result.settings, "source": source}
    (tmp / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    (tmp / "README.md").write_text(card.render(record))  # replaces peft's generic card
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)


def repo_relative(folder: str) -> str:
    p = Path(folder)
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return folder
