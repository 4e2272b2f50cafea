"""The one writer of a run directory (docs/run-directory.md): all files or none, and never over a
directory that is not an earlier run of this engine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Mapping

from ..errors import OutputExistsError

TOOL = "shapley_attr"
MANIFEST = "manifest.json"


def is_run_directory(path: Path) -> bool:
    """Whether ``path`` is a directory holding an earlier run of this engine: a ``manifest.json``
    that is a JSON object with ``"tool": "shapley_attr"``."""
    manifest = Path(path) / MANIFEST
    if not Path(path).is_dir() or Path(path).is_symlink() or not manifest.is_file():
        return False
    try:
        with open(manifest, "rb") as fh:
            data = json.loads(fh.read(16 << 20))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == TOOL


def check_target(out: str | Path, force: bool) -> Path:
    """Refuse, before any work, a target that exists and may not be replaced (DATA.md "Guarantees"):
    without ``--force`` any existing path; with it, anything but an earlier run directory."""
    out = Path(out)
    if not (out.exists() or out.is_symlink()):
        return out
    if not force:
        raise OutputExistsError(f"{out}: run directory exists; nothing was written (use --force to replace an "
                                "earlier run)")
    if not is_run_directory(out):
        what = "a file" if out.is_file() else "a symbolic link" if out.is_symlink() else "a directory"
        raise OutputExistsError(f"{out}: exists and is {what} that does not hold a run of {TOOL} (no {MANIFEST} "
                                f"with \"tool\": \"{TOOL}\"); --force replaces only an earlier run directory, so "
                                "nothing was touched")
    return out


def write_run_directory(out: str | Path, files: Mapping[str, bytes], force: bool,
                        finish: Callable[[Path], None] | None = None) -> Path:
    """Write ``files`` (name -> bytes) as the run directory ``out``, atomically: built under a
    temporary name beside it and renamed into place when complete. ``finish(tmp_dir)`` runs last
    inside the temporary directory (the report is built there from the files alone)."""
    from .atomic import atomic_directory

    out = check_target(out, force)
    with atomic_directory(out, force=force) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if finish is not None:
            finish(tmp)
    return out
