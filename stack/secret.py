"""The install's own Django secret key, so the one-machine stack never signs
sessions with the public development key from backend/settings.py."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def secret_key(var_dir: Path) -> str:
    """var/secret_key, created on first use (random, mode 600) and kept, so
    sessions survive a restart of the stack."""
    path = Path(var_dir) / "secret_key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= 50:
        os.chmod(path, 0o600)  # a copy made by hand may have lost its mode
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Created 600 from the start: never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.chmod(path, 0o600)
    return key
