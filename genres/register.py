"""Add a genre route to the model registry (config/models.yaml), idempotently.

The registry is hand-written and commented, so it is edited as text, not
re-dumped: the entry goes at the end of `models:` and the route is appended to
each instance that holds its base. The result is validated with the registry's
own parser before it replaces the file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from contract import registry


def entry_for_adapter(name: str, genre: str, description: str, base: str, adapter_path: str) -> dict:
    return {"name": name, "genre": genre, "description": description, "base": base, "adapter": {"path": adapter_path}}


def entry_for_full(name: str, genre: str, description: str, folder: str) -> dict:
    return {"name": name, "genre": genre, "description": description, "source": {"kind": "local", "path": folder}}


def add_route(route: str, entry: dict, path: str | os.PathLike | None = None) -> bool:
    """Make `route` an entry of the registry and serve it; return whether the file changed.

    An adapter route joins every instance that holds its base. A full model gets
    an instance of its own on the next free port.
    """
    path = Path(path) if path else registry.registry_path()
    text = path.read_text()
    data = yaml.safe_load(text)
    models = data.get("models") or {}
    new = text
    if models.get(route) != entry:
        new = _remove_model_block(new, route) if route in models else new
        new = _insert_model_block(new, route, entry)
    base = entry.get("base")
    instances = yaml.safe_load(new).get("instances") or []
    if base:
        for inst in instances:
            if base in inst["routes"] and route not in inst["routes"]:
                new = _append_route(new, inst["id"], route)
    elif not any(route in inst["routes"] for inst in instances):
        new = _append_instance(new, route, instances)
    if new == text:
        return False
    registry.parse(yaml.safe_load(new), str(path))  # raises RegistryError before anything is written
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)
    return True


def _render(route: str, entry: dict) -> list[str]:
    out = [f"  {route}:"]
    for key, value in entry.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
            out.append(f"    {key}: {{{inner}}}")
        else:
            out.append(f"    {key}: {_scalar(value)}")
    return out


def _scalar(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _top_level_end(lines: list[str], header: str) -> int:
    """Index just past the last content line of the top-level block `header:`."""
    start = next((i for i, ln in enumerate(lines) if re.match(rf"^{header}:\s*(#.*)?$", ln)), None)
    if start is None:
        raise registry.RegistryError(f"the registry has no top-level `{header}:` block")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if lines[i] and not lines[i][0].isspace() and not lines[i].startswith("#"):
            end = i
            break
    # Blank lines and column-0 comments just before the next key belong to that key.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return end


def _insert_model_block(text: str, route: str, entry: dict) -> str:
    lines = text.splitlines()
    end = _top_level_end(lines, "models")
    lines[end:end] = _render(route, entry)
    return "\n".join(lines) + "\n"


def _remove_model_block(text: str, route: str) -> str:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf"^  {re.escape(route)}:\s*(#.*)?$", ln))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    del lines[start:end]
    return "\n".join(lines) + "\n"


def _append_route(text: str, instance_id: str, route: str) -> str:
    lines = text.splitlines()
    id_re = re.compile(rf"\bid:\s*['\"]?{re.escape(instance_id)}['\"]?\s*[,}}\n]?")
    for i, ln in enumerate(lines):
        if not id_re.search(ln):
            continue
        # Flow style, as the registry writes instances: `routes: [a, b]` on this or a following line.
        for j in range(i, min(i + 8, len(lines))):
            m = re.search(r"routes:\s*\[([^\]]*)\]", lines[j])
            if m:
                items = [x.strip() for x in m.group(1).split(",") if x.strip()]
                lines[j] = lines[j][: m.start(1)] + ", ".join(items + [route]) + lines[j][m.end(1):]
                return "\n".join(lines) + "\n"
            if j > i and lines[j].lstrip().startswith("- "):
                break
        # Block style: `routes:` followed by `- item` lines.
        for j in range(i, len(lines)):
            if re.match(r"^\s*(- )?routes:\s*$", lines[j]):
                k = j + 1
                while k < len(lines) and re.match(r"^\s+- ", lines[k]):
                    k += 1
                indent = re.match(r"^(\s+)- ", lines[k - 1]).group(1) if k > j + 1 else " " * (len(lines[j]) - len(lines[j].lstrip()) + 2)
                lines.insert(k, f"{indent}- {route}")
                return "\n".join(lines) + "\n"
    raise registry.RegistryError(f"could not find the routes of instance {instance_id!r} to add {route!r}")


def _append_instance(text: str, route: str, instances: list[dict]) -> str:
    port = max([i["port"] for i in instances] + [8100]) + 10
    lines = text.splitlines()
    end = _top_level_end(lines, "instances")
    lines[end:end] = [f"  - {{id: {route}-1, host: 127.0.0.1, port: {port}, routes: [{route}]}}"]
    return "\n".join(lines) + "\n"
