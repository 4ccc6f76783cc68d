"""Tiny real models for fast tests: a GPT-2-architecture model with the real
GPT-2 tokenizer, and a Llama-architecture model with SmolLM2's tokenizer.
Weights are random but seeded; a larger init scale makes greedy choices
decisive, so batching-invariance tests are not at the mercy of near-ties."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
GPT2_TOKENIZER = REPO / "models" / "gpt2-tokenizer"
SMOLLM2 = REPO / "models" / "smollm2-135m"


def gpt2_tokenizer():
    from transformers import GPT2TokenizerFast

    vocab = json.loads((GPT2_TOKENIZER / "vocab.json").read_text())
    merges = [tuple(line.split()) for line in (GPT2_TOKENIZER / "merges.txt").read_text().splitlines()[1:] if line]
    return GPT2TokenizerFast(vocab=vocab, merges=merges, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                             unk_token="<|endoftext|>")


def build_tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    if (folder / "config.json").exists():
        return folder
    torch.manual_seed(seed)
    cfg = GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=512, vocab_size=50257, initializer_range=0.3)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    gpt2_tokenizer().save_pretrained(folder)
    return folder


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (folder / "config.json").exists():
        return folder
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(SMOLLM2)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=1024,
                      tie_word_embeddings=True, initializer_range=0.3, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, rope_theta=10000.0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_registry_data(folder: Path, ports: dict[str, int] | None = None) -> dict:
    ports = ports or {}
    limits = {"context": 512, "max_new_tokens": 64, "max_n": 4, "max_batch": 8, "max_queue": 16,
              "max_prompt_chars": 4000, "window_step": 64}
    return {
        # (compiling the decode step costs each process seconds; bf16 prompt chunks or a bf16 KV
        # cache, where the CPU has them, would make greedy text depend on the machine: the tests
        # that check these ask for them)
        "defaults": {"device": "cpu", "dtype": "float32", "compile_decode": "off", "prefill_dtype": "float32",
                     "kv_dtype": "float32", "limits": limits},
        "models": {
            "tiny-gpt2": {"name": "Tiny GPT-2", "genre": "test",
                          "source": {"kind": "local", "path": str(folder / "tiny-gpt2")}},
            "tiny-llama": {"name": "Tiny Llama", "genre": "test",
                           "source": {"kind": "local", "path": str(folder / "tiny-llama")}},
            "missing": {"name": "Missing", "genre": "test",
                        "source": {"kind": "local", "path": str(folder / "not-here")}},
        },
        "instances": [
            {"id": "tiny-gpt2-1", "port": ports.get("tiny-gpt2-1", 18101), "routes": ["tiny-gpt2"]},
            {"id": "tiny-gpt2-2", "port": ports.get("tiny-gpt2-2", 18102), "routes": ["tiny-gpt2"]},
            {"id": "tiny-llama-1", "port": ports.get("tiny-llama-1", 18111), "routes": ["tiny-llama"]},
            {"id": "missing-1", "port": ports.get("missing-1", 18121), "routes": ["missing"]},
        ],
    }


def build_tiny_registry(folder: Path, ports: dict[str, int] | None = None) -> Path:
    """Models under `folder` and a registry file `folder/models.yaml` naming them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build_tiny_gpt2(folder / "tiny-gpt2")
    build_tiny_llama(folder / "tiny-llama")
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(tiny_registry_data(folder, ports), sort_keys=False))
    return path
