"""The model registry: `config/models.yaml` parsed and validated.

Every part of writeup reads models through this module: the microservice, the
backend, the load balancer config generator and Ansible's inventory helper.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY = REPO_ROOT / "config" / "models.yaml"
# Paths a route may not take because the microservice or the LB already uses them.
RESERVED_ROUTES = {"v1", "metrics", "health", "api", "ws", "static", "admin", "stats"}


class RegistryError(ValueError):
    """The registry file is missing or invalid; the message says where."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    context: int = Field(2048, ge=16, le=131072)
    max_prompt_chars: int = Field(200000, ge=1)
    max_new_tokens: int = Field(200, ge=1)
    max_n: int = Field(4, ge=1, le=16)
    max_batch: int = Field(32, ge=1, le=1024)
    max_queue: int = Field(64, ge=0)
    window_step: int = Field(256, ge=1)
    writer_max_seqs: int = Field(8, ge=1)  # sequences (counting n) one writer may have running at once
    writer_max_queue: int = Field(8, ge=1)  # requests one writer may have waiting; past it: over_quota


class Source(Strict):
    kind: Literal["embedded", "local", "huggingface"]
    package: str | None = None  # embedded: the Python package holding the file
    file: str | None = None  # embedded: GGUF file inside the package
    path: str | None = None  # embedded: converted folder; local: the folder
    id: str | None = None  # huggingface: repo id
    revision: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self):
        need = {"embedded": ("package", "file", "path"), "local": ("path",), "huggingface": ("id",)}
        missing = [f for f in need[self.kind] if not getattr(self, f)]
        if missing:
            raise ValueError(f"source kind {self.kind!r} needs {', '.join(missing)}")
        return self


class Adapter(Strict):
    path: str  # folder with a PEFT LoRA adapter (adapter_config.json + weights)
    merge: bool = False  # merge into a private copy of the base (fastest, one route only)


class Model(Strict):
    route: str
    name: str
    genre: str = "general"
    description: str = ""
    source: Source | None = None  # base models
    base: str | None = None  # adapter routes: the route of their base model
    adapter: Adapter | None = None
    device: str = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    # Prompt chunks' matmuls: auto = bfloat16 where it pays (a CUDA device, or a
    # CPU with AMX or AVX-512 BF16), else the model's dtype; see loader.half_prefill_dtype.
    prefill_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # Keys and values in the KV cache: bfloat16 holds twice the drafts in the
    # prefix cache's budget at the same decode speed (attention reads them back
    # in fp32); auto = the model's dtype; see loader.kv_cache_dtype.
    kv_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    # Decode rows and short chunks read fp16 copies of the weights prepacked for
    # fbgemm (half the bytes a step streams from memory; activations stay fp32):
    # auto = on for float32 models on x86 CPUs; see loader.fp16_weights.
    fp16_weights: Literal["auto", "on", "off"] = "auto"
    # Decode rows read 4-bit copies of the weights (a quarter of fp32's bytes;
    # activations round to bf16): auto = on x86 CPUs with AVX-512, for the
    # linears whose weights are 4-bit already (the embedded model's Q4_1), so
    # nothing moves but rounding; on = every linear (lossy); see engine/int4.py.
    int4_weights: Literal["auto", "on", "off"] = "auto"
    # Decode-only steps run one compiled graph (torch.compile; microservices/
    # engine/compiled.py): auto = on for CPU devices with a C++ compiler.
    # Costs a minute of compiling at the first start (cached on disk after).
    compile_decode: Literal["auto", "on", "off"] = "auto"
    limits: Limits = Limits()

    @property
    def is_adapter(self) -> bool:
        return self.adapter is not None

    def resolve(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else REPO_ROOT / p


class Instance(Strict):
    id: str
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    routes: tuple[str, ...]

    @field_validator("routes")
    @classmethod
    def _non_empty(cls, v):
        if not v:
            raise ValueError("an instance serves at least one route")
        return v


class Registry(Strict):
    models: dict[str, Model]
    instances: tuple[Instance, ...]
    path: str

    def model(self, route: str) -> Model:
        return self.models[route]

    def base_of(self, route: str) -> Model:
        m = self.models[route]
        return self.models[m.base] if m.base else m

    def instance(self, instance_id: str) -> Instance:
        for inst in self.instances:
            if inst.id == instance_id:
                return inst
        raise RegistryError(f"{self.path}: no instance with id {instance_id!r}")

    def instances_for(self, route: str) -> list[Instance]:
        return [i for i in self.instances if route in i.routes]


_ROUTE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _merge(defaults: dict, entry: dict) -> dict:
    out = dict(defaults)
    for k, v in entry.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse(data: dict, path: str = "<registry>") -> Registry:
    """Validate a registry mapping; raise RegistryError with a readable message."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise RegistryError(f"{path}: expected a mapping with a `models:` mapping")
    defaults = data.get("defaults") or {}
    models: dict[str, Model] = {}
    for route, entry in data["models"].items():
        if not _ROUTE_RE.match(str(route)) or route in RESERVED_ROUTES:
            raise RegistryError(f"{path}: route {route!r} must be lowercase letters, digits and '-', and not one of {sorted(RESERVED_ROUTES)}")
        try:
            models[route] = Model(route=route, **_merge(defaults, entry or {}))
        except ValidationError as e:
            raise RegistryError(f"{path}: model {route!r}: {_first_error(e)}") from None
    for m in models.values():
        if m.adapter and not m.base:
            raise RegistryError(f"{path}: model {m.route!r} has an adapter but no `base:` route")
        if m.base:
            base = models.get(m.base)
            if base is None or base.base:
                raise RegistryError(f"{path}: model {m.route!r}: base {m.base!r} is not a base model in the registry")
        elif not m.source:
            raise RegistryError(f"{path}: model {m.route!r} needs a `source:` (or a `base:` and an `adapter:`)")
        # The n alternatives of one request join the batch together, and the
        # instance's batch is sized by the base model: a larger n would wait forever.
        batch = models[m.base].limits.max_batch if m.base else m.limits.max_batch
        if m.limits.max_n > batch:
            raise RegistryError(f"{path}: model {m.route!r}: limits.max_n ({m.limits.max_n}) exceeds the batch it runs in "
                                f"(max_batch {batch}); a request for n alternatives needs n batch rows at once")
    instances = []
    for raw in data.get("instances") or []:
        try:
            inst = Instance(**raw)
        except (ValidationError, TypeError) as e:
            msg = _first_error(e) if isinstance(e, ValidationError) else str(e)
            raise RegistryError(f"{path}: instance {raw!r}: {msg}") from None
        unknown = [r for r in inst.routes if r not in models]
        if unknown:
            raise RegistryError(f"{path}: instance {inst.id!r} serves unknown routes {unknown}")
        bases = {(models[r].base or r) for r in inst.routes}
        if len(bases) > 1:
            raise RegistryError(f"{path}: instance {inst.id!r} mixes base models {sorted(bases)}; one instance holds one base")
        instances.append(inst)
    ids = [i.id for i in instances]
    if len(ids) != len(set(ids)):
        raise RegistryError(f"{path}: instance ids must be unique")
    ports = [(i.host, i.port) for i in instances]
    if len(ports) != len(set(ports)):
        raise RegistryError(f"{path}: two instances share a host and port")
    return Registry(models=models, instances=tuple(instances), path=path)


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def registry_path() -> Path:
    return Path(os.environ.get("WRITEUP_REGISTRY", DEFAULT_REGISTRY))


def load(path: str | os.PathLike | None = None) -> Registry:
    p = Path(path) if path else registry_path()
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise RegistryError(f"model registry not found: {p}") from None
    except yaml.YAMLError as e:
        raise RegistryError(f"{p}: not valid YAML: {e}") from None
    return parse(data, str(p))


@lru_cache(maxsize=8)
def load_cached(path: str | None = None) -> Registry:
    return load(path)
