"""Hugging Face checkpoint folder -> engine Transformer + tokenizer.

The checkpoint layout is converted once here (fused q/k/v and gate/up, GPT-2's
Conv1D weights transposed), never per step."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from .model import ModelArgs, Transformer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        sd = {}
        for f in files:
            sd.update(load_file(f))
        return sd
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if not bins:
        raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin in {folder}")
    sd = {}
    for f in bins:
        sd.update(torch.load(f, map_location="cpu", weights_only=True))
    return sd


def _llama_state(sd: dict, a: ModelArgs) -> dict:
    g = lambda k: sd[f"model.{k}"]  # noqa: E731
    out = {"tok_embeddings.weight": g("embed_tokens.weight"), "norm.weight": g("norm.weight")}
    out["output.weight"] = sd.get("lm_head.weight", out["tok_embeddings.weight"]) if not a.tie_embeddings else out["tok_embeddings.weight"]
    for i in range(a.n_layer):
        p, q = f"layers.{i}.", f"layers.{i}."
        out[q + "attention.wqkv.weight"] = torch.cat([g(p + f"self_attn.{n}_proj.weight") for n in "qkv"])
        out[q + "attention.wo.weight"] = g(p + "self_attn.o_proj.weight")
        out[q + "feed_forward.w13.weight"] = torch.cat([g(p + "mlp.gate_proj.weight"), g(p + "mlp.up_proj.weight")])
        out[q + "feed_forward.w2.weight"] = g(p + "mlp.down_proj.weight")
        out[q + "attention_norm.weight"] = g(p + "input_layernorm.weight")
        out[q + "ffn_norm.weight"] = g(p + "post_attention_layernorm.weight")
    return out


def _gpt2_state(sd: dict, a: ModelArgs) -> dict:
    sd = {k.removeprefix("transformer."): v for k, v in sd.items()}
    out = {"tok_embeddings.weight": sd["wte.weight"], "pos_embeddings.weight": sd["wpe.weight"],
           "norm.weight": sd["ln_f.weight"], "norm.bias": sd["ln_f.bias"], "output.weight": sd["wte.weight"]}
    for i in range(a.n_layer):
        p, q = f"h.{i}.", f"layers.{i}."
        # GPT-2 stores Conv1D weights as [in, out]; Linear wants [out, in].
        for src, dst in (("attn.c_attn", "attention.wqkv"), ("attn.c_proj", "attention.wo"),
                         ("mlp.c_fc", "feed_forward.w1"), ("mlp.c_proj", "feed_forward.w2")):
            out[q + dst + ".weight"] = sd[p + src + ".weight"].t()
            out[q + dst + ".bias"] = sd[p + src + ".bias"]
        for src, dst in (("ln_1", "attention_norm"), ("ln_2", "ffn_norm")):
            out[q + dst + ".weight"] = sd[p + src + ".weight"]
            out[q + dst + ".bias"] = sd[p + src + ".bias"]
    return out


def cpu_bf16_matmul(cpuinfo: str | None = None, capability: str | None = None) -> str | None:
    """The CPU's native bf16 matmul instructions, if torch's kernels use them:
    "amx" (Intel's tiles), "avx512_bf16" (dot products: AMD Zen 4, Intel
    Cooper Lake and later), or None (bf16 is emulated, slower than fp32)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    capability = capability or torch.backends.cpu.get_cpu_capability()
    if not capability.startswith("AVX512"):  # e.g. ATEN_CPU_CAPABILITY=avx2 keeps torch off them
        return None
    flags = set(cpuinfo.split())
    return "amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else None


def half_prefill_dtype(setting: str, device: torch.device, model_dtype: torch.dtype) -> torch.dtype | None:
    """The dtype for prompt chunks' matmuls, or None to keep the model's.
    bf16 matmuls on many rows run several times faster than fp32 on AMX, and
    ~2.4x faster with AVX-512 BF16 (benchmarks/half_prefill.py: a whole
    prefill 1.7x); on a CPU without either (AVX2) they run slower, so `auto`
    leaves them be there."""
    if setting == "auto":
        if model_dtype != torch.float32:
            return None
        if device.type == "cuda":
            return torch.bfloat16
        return torch.bfloat16 if cpu_bf16_matmul() else None
    dtype = DTYPES[setting]
    return None if dtype == model_dtype else dtype


def kv_cache_dtype(setting: str, device: torch.device, model_dtype: torch.dtype) -> torch.dtype | None:
    """The KV cache's dtype, or None to keep the model's (Transformer.use_kv_dtype).
    `bfloat16` halves an fp32 model's cache: twice the drafts in the prefix
    cache's budget. `auto` keeps the model's dtype: on an AMX Xeon a bf16
    cache decoded no faster (benchmarks/long_drafts.py: continuing a
    1,829-token draft 43.6 against 45.2 tok/s; attention reads the cache back
    in fp32), so its only gain is capacity, which the default budget already
    covers (34 drafts of 2,000 tokens)."""
    if setting == "auto":
        return None
    dtype = DTYPES[setting]
    return None if dtype == model_dtype else dtype


def fp16_weights(setting: str, device: torch.device, model_dtype: torch.dtype) -> bool:
    """Whether decode rows and short chunks read fbgemm-prepacked fp16
    weights (Transformer.use_packed_fp16). fbgemm ships in torch's x86 CPU
    builds; `auto` uses it for fp32 models on the CPU, `on` insists."""
    available = device.type == "cpu" and "fbgemm" in torch.backends.quantized.supported_engines
    if setting == "on" and not available:
        raise ValueError(f"fp16_weights: on needs a CPU device with fbgemm (x86); this is {device.type}")
    return setting != "off" and available and model_dtype == torch.float32


def int4_weights(setting: str, device: torch.device) -> bool:
    """Whether decode rows read 4-bit weights (Transformer.use_int4_weights;
    `auto` then only where they are exact). ATen's int4 kernel runs on the
    CPU; `auto` asks for AVX-512, where it was measured (benchmarks/long_drafts.py)."""
    if setting == "on" and device.type != "cpu":
        raise ValueError(f"int4_weights: on needs a CPU device; this is {device.type}")
    if setting == "auto":
        return device.type == "cpu" and torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    return setting == "on"


def compile_decode(setting: str, device: torch.device) -> bool:
    """Whether decode-only steps run a compiled graph (Transformer.compile_decode).
    `auto` compiles on the CPU, where eager dispatch costs a decode step most
    and inductor's C++ backend needs a system compiler; `on` insists."""
    from .compiled import compiler_available

    if setting == "on" and device.type == "cpu" and not compiler_available():
        raise ValueError("compile_decode: on needs a C++ compiler (g++) for torch.compile on the CPU")
    if setting == "auto":
        return device.type == "cpu" and compiler_available()
    return setting == "on"


def load_model(folder: Path, device: str = "auto", dtype: str = "float32") -> Transformer:
    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    args = ModelArgs.from_hf(cfg)
    sd = read_state_dict(folder)
    state = _gpt2_state(sd, args) if args.arch == "gpt2" else _llama_state(sd, args)
    with torch.device("meta"):
        model = Transformer(args)
    model.load_state_dict({k: v.contiguous() for k, v in state.items()}, strict=True, assign=True)
    return model.to(device=pick_device(device), dtype=DTYPES[dtype]).eval().requires_grad_(False)


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)
