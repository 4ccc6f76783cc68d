"""Registering a genre edits a copy of the real registry, keeps it valid and commented."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from genres import register
from contract import registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def reg(tmp_path) -> Path:
    path = tmp_path / "models.yaml"
    shutil.copy(REPO / "config" / "models.yaml", path)
    return path


def adapter_entry(genre: str = "witches", path: str = "adapters/witches") -> dict:
    return register.entry_for_adapter("Witches", genre, "Doggerel for three voices: rain, thunder.", "smollm2", path)


def test_adapter_route_added_and_served_by_the_base_instance(reg):
    before = reg.read_text()
    assert register.add_route("witches", adapter_entry(), reg) is True
    r = registry.load(reg)
    m = r.model("witches")
    assert m.is_adapter and m.base == "smollm2" and m.adapter.path == "adapters/witches" and m.genre == "witches"
    assert m.description == "Doggerel for three voices: rain, thunder."
    assert all("witches" in i.routes for i in r.instances_for("smollm2"))
    # Everything else is untouched: comments survive, other entries are equal.
    text = reg.read_text()
    assert [ln for ln in before.splitlines() if ln.lstrip().startswith("#")] == \
        [ln for ln in text.splitlines() if ln.lstrip().startswith("#")]
    old, new = yaml.safe_load(before), yaml.safe_load(text)
    assert {k: v for k, v in new["models"].items() if k != "witches"} == old["models"]
    assert new["defaults"] == old["defaults"]


def test_adding_twice_changes_nothing(reg):
    register.add_route("witches", adapter_entry(), reg)
    once = reg.read_text()
    assert register.add_route("witches", adapter_entry(), reg) is False
    assert reg.read_text() == once


def test_changed_entry_is_replaced_not_duplicated(reg):
    register.add_route("witches", adapter_entry(), reg)
    register.add_route("witches", adapter_entry(path="adapters/witches-v2"), reg)
    r = registry.load(reg)
    assert r.model("witches").adapter.path == "adapters/witches-v2"
    assert reg.read_text().count("  witches:") == 1
    assert list(r.instance("smollm2-1").routes).count("witches") == 1


def test_two_genres_in_a_row(reg):
    register.add_route("witches", adapter_entry(), reg)
    register.add_route("ghosts", adapter_entry("ghosts", "adapters/ghosts"), reg)
    routes = registry.load(reg).instance("smollm2-1").routes
    assert routes[-2:] == ("witches", "ghosts")


def test_full_model_gets_an_instance_of_its_own(reg):
    entry = register.entry_for_full("Witches (full)", "witches", "", "models/witches")
    register.add_route("witches-full", entry, reg)
    r = registry.load(reg)
    assert r.model("witches-full").source.kind == "local"
    (inst,) = r.instances_for("witches-full")
    assert inst.routes == ("witches-full",) and inst.port not in [i.port for i in r.instances if i is not inst]


def test_invalid_result_leaves_the_file_alone(reg):
    before = reg.read_text()
    bad = register.entry_for_adapter("Bad", "bad", "", "no-such-base", "adapters/bad")
    with pytest.raises(registry.RegistryError):
        register.add_route("bad", bad, reg)
    assert reg.read_text() == before


def test_block_style_instance_routes(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("""models:
  base:
    name: Base
    source: {kind: local, path: models/base}

instances:
  - id: base-1
    port: 9001
    routes:
      - base
""")
    register.add_route("witches", register.entry_for_adapter("Witches", "witches", "", "base", "adapters/witches"), path)
    assert registry.load(path).instance("base-1").routes == ("base", "witches")
