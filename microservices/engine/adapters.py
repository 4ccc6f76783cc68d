"""PEFT LoRA adapter folders -> the model's LoRA banks (or merged weights).

Several adapters live side by side in each bank, so one model copy serves the
base route and every genre route in the same batch; an adapter costs its few
MB. `merge` folds one adapter into the weights instead (fastest, one route)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from .model import Transformer

# engine linear -> the checkpoint modules fused into it, in output order
PARTS = {
    "llama": {"attention.wqkv": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
              "attention.wo": ["self_attn.o_proj"],
              "feed_forward.w13": ["mlp.gate_proj", "mlp.up_proj"],
              "feed_forward.w2": ["mlp.down_proj"]},
    "gpt2": {"attention.wqkv": ["attn.c_attn"], "attention.wo": ["attn.c_proj"],
             "feed_forward.w1": ["mlp.c_fc"], "feed_forward.w2": ["mlp.c_proj"]},
}
_KEY = re.compile(r"(?:layers|h)\.(\d+)\.(.+)\.lora_([AB])(?:\.default)?\.weight$")


class AdapterError(ValueError):
    pass


def read_adapter(folder: Path) -> tuple[dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]], float]:
    """{(layer, module): (A [r, in], B [out, r])} and the scale alpha/r."""
    folder = Path(folder)
    try:
        cfg = json.loads((folder / "adapter_config.json").read_text())
    except FileNotFoundError:
        raise AdapterError(f"{folder}: no adapter_config.json (expected a PEFT LoRA adapter folder)") from None
    if cfg.get("peft_type", "LORA") != "LORA" or cfg.get("use_dora"):
        raise AdapterError(f"{folder}: only plain LoRA adapters are supported")
    if cfg.get("modules_to_save"):
        raise AdapterError(f"{folder}: modules_to_save {list(cfg['modules_to_save'])} stores whole trained copies of "
                           "those modules, which the engine would ignore; train the adapter without modules_to_save")
    r, alpha = cfg["r"], cfg.get("lora_alpha", cfg["r"])
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    files = list(folder.glob("adapter_model.safetensors"))
    sd = load_file(files[0]) if files else torch.load(folder / "adapter_model.bin", map_location="cpu", weights_only=True)
    # The banks hold LoRA pairs on the layers' linears only: any other weight
    # (LoRA on embeddings or lm_head, biases, saved modules) would be silently
    # dropped, and the route would serve something other than what was trained.
    ignored = sorted(k for k in sd if not _KEY.search(k))
    if ignored:
        raise AdapterError(f"{folder}: the engine applies LoRA only to the layers' attention and MLP projections and "
                           f"would ignore {ignored[:4]} (LoRA on embeddings or lm_head, biases or saved modules)")
    pairs: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, t in sd.items():
        m = _KEY.search(key)
        pairs.setdefault((int(m[1]), m[2]), {})[m[3]] = t.float()
    return {k: (v["A"], v["B"]) for k, v in pairs.items() if "A" in v and "B" in v}, scale


def _linears(model: Transformer):
    for i, layer in enumerate(model.layers):
        for name, parts in PARTS[model.args.arch].items():
            yield i, layer.get_submodule(name), parts


def install(model: Transformer, folders: list[Path]) -> None:
    """Put adapters 1..len(folders) into every LoRA bank (0 stays the base)."""
    loaded = [read_adapter(f) for f in folders]
    for i, (tensors, _) in enumerate(loaded):
        known = {(li, p) for li, _, parts in _linears(model) for p in parts}
        stray = sorted(k[1] for k in set(tensors) - known)
        if stray:
            raise AdapterError(f"{folders[i]}: targets modules the engine cannot apply LoRA to: {stray[:4]}")
    rank = max((a.shape[0] for tensors, _ in loaded for a, _ in tensors.values()), default=0)
    dtype, device = model.output.weight.dtype, model.output.weight.device
    for li, lin, parts in _linears(model):
        width = len(parts) * rank
        out_sizes = _split_sizes(model, lin, parts)
        A = torch.zeros(lin.in_features, len(loaded) * width)
        B = torch.zeros(len(loaded) * width, lin.out_features)
        for ai, (tensors, scale) in enumerate(loaded):
            out_off = 0
            for pi, part in enumerate(parts):
                pair = tensors.get((li, part))
                if pair is not None:
                    a, b = pair
                    c0 = ai * width + pi * rank
                    A[:, c0:c0 + a.shape[0]] = a.t()
                    B[c0:c0 + a.shape[0], out_off:out_off + out_sizes[pi]] = b.t() * scale
                out_off += out_sizes[pi]
        lin.lora.rank = width
        lin.lora.A, lin.lora.B = A.to(device, dtype), B.to(device, dtype)


def merge(model: Transformer, folder: Path) -> None:
    """Fold one adapter into the weights: W += scale * B @ A."""
    tensors, scale = read_adapter(folder)
    for li, lin, parts in _linears(model):
        out_off = 0
        for part, size in zip(parts, _split_sizes(model, lin, parts)):
            pair = tensors.get((li, part))
            if pair is not None:
                a, b = pair
                delta = (b @ a) * scale
                lin.weight.data[out_off:out_off + size] += delta.to(lin.weight.dtype)
            out_off += size


def _split_sizes(model: Transformer, lin, parts: list[str]) -> list[int]:
    a = model.args
    if len(parts) == 3:  # q, k, v
        return [a.n_head * a.head_dim, a.n_kv_head * a.head_dim, a.n_kv_head * a.head_dim]
    return [lin.out_features // len(parts)] * len(parts)
