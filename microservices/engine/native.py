"""Builds and loads the compiled decode step's C++ ops (csrc/decode_ops.cpp).

torch.utils.cpp_extension compiles the file once with the system's g++ and
ninja into `~/.cache/writeup/torch_extensions` (`WRITEUP_EXTENSIONS_DIR`),
rebuilding when the source or torch changes; processes that start together
wait on its lock rather than build twice. When anything is missing (no
compiler, no ninja, a build error), `load()` says why once and returns
False: the graph then calls the same ops' Python versions (compiled.py),
slower, never wrong. `WRITEUP_NATIVE_OPS=0` asks for the Python versions.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import torch

log = logging.getLogger("writeup.engine")
SOURCE = Path(__file__).parent / "csrc" / "decode_ops.cpp"
_lock = threading.Lock()
_loaded: bool | None = None


def build_dir() -> Path:
    root = os.environ.get("WRITEUP_EXTENSIONS_DIR") or os.path.expanduser("~/.cache/writeup/torch_extensions")
    # torch's version in the path: a library built against another torch must not load
    return Path(root) / f"torch-{torch.__version__}"


def missing_tools() -> list[str]:
    return [tool for tool in ("g++", "ninja") if shutil.which(tool) is None]


def load() -> bool:
    """Whether torch.ops.writeup_native is usable (building it on first call)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> bool:
    if os.environ.get("WRITEUP_NATIVE_OPS", "1") == "0":
        return False
    if hasattr(torch.ops.writeup_native, "decode_attend"):  # loaded by another copy of this module
        return True
    missing = missing_tools()
    if missing:
        log.warning("the compiled decode step's C++ ops need %s: using their Python versions (slower)",
                    " and ".join(missing))
        return False
    return build(build_dir())


def build(folder: Path) -> bool:
    """Build (or find built) and load the ops from `folder`; False, logged, if that fails."""
    from torch.utils.cpp_extension import load

    try:  # (a read-only home, a compiler or linker error: serve, slower)
        folder.mkdir(parents=True, exist_ok=True)
        load(name="writeup_native", sources=[str(SOURCE)], build_directory=str(folder),
              extra_cflags=["-O3", "-fopenmp-simd"], is_python_module=False, verbose=False)
    except Exception as e:  # noqa: BLE001
        log.warning("building the compiled decode step's C++ ops in %s failed; using their Python versions "
                    "(slower): %s", folder, str(e).strip().splitlines()[-1][:300] if str(e).strip() else e)
        return False
    return True
