"""Fetch corpus packages with the registries' own clients and unpack them once.

Everything lands in a cache folder outside git; a file already there is reused,
so building a corpus twice does not touch the network.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path


class FetchError(RuntimeError):
    """A package could not be fetched or unpacked; the message says which and why."""


@dataclass(frozen=True)
class Package:
    registry: str  # pypi | debian | npm
    name: str
    version: str
    file: str
    sha256: str

    def as_dict(self) -> dict:
        return asdict(self)


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed; it is needed to fetch corpus packages") from None
    except subprocess.CalledProcessError as e:
        raise FetchError(f"{' '.join(cmd)} failed: {(e.stderr or e.stdout).strip()[-500:]}") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _one(cache: Path, pattern: str) -> Path | None:
    found = sorted(p for p in cache.glob(pattern) if p.is_file() and not p.name.endswith(".tmp"))
    return found[-1] if found else None


def pypi(name: str, version: str, cache: Path, sdist: bool = True) -> tuple[Package, Path]:
    """Download one PyPI distribution (no dependencies) and unpack it."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")
    path = _one(cache, f"{name}-{version}*") or _one(cache, f"{stem}-{version}*")
    if path is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(cache)]
        cmd += ["--no-binary", ":all:"] if sdist else []
        _run(cmd + [f"{name}=={version}"], cache)
        path = _one(cache, f"{name}-{version}*") or _one(cache, f"{stem}-{version}*")
        if path is None:
            raise FetchError(f"pip download {name}=={version} left no file in {cache}")
    return Package("pypi", name, version, path.name, _sha256(path)), _unpack(path)


def debian(name: str, cache: Path) -> tuple[Package, Path]:
    """`apt-get download` one .deb (whatever version the archive has) and extract it."""
    cache.mkdir(parents=True, exist_ok=True)
    path = _one(cache, f"{name}_*.deb")
    if path is None:
        _run(["apt-get", "download", name], cache)
        path = _one(cache, f"{name}_*.deb")
        if path is None:
            raise FetchError(f"apt-get download {name} left no .deb in {cache}")
    version = path.name.split("_")[1]
    return Package("debian", name, version, path.name, _sha256(path)), _unpack(path)


def npm(name: str, version: str, cache: Path) -> tuple[Package, Path]:
    """`npm pack` one package tarball and unpack it."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name}-{version}.tgz"
    if not path.exists():
        _run(["npm", "pack", "--silent", f"{name}@{version}", "--pack-destination", str(cache)], cache)
        if not path.exists():
            raise FetchError(f"npm pack {name}@{version} left no {path.name} in {cache}")
    return Package("npm", name, version, path.name, _sha256(path)), _unpack(path)


def _unpack(path: Path) -> Path:
    dest = path.parent / (path.name + ".d")
    if dest.exists():
        return dest
    tmp = path.parent / (path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    if path.suffix == ".deb":
        _run(["dpkg-deb", "-x", str(path), str(tmp)], path.parent)
    elif path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as z:
            z.extractall(tmp)
    else:
        with tarfile.open(path) as t:
            t.extractall(tmp, filter="data")
    tmp.rename(dest)  # only a complete unpack ever has the final name
    return dest
