"""Atomic writes: a file or a whole directory appears complete or not at all.

Data is written to a temporary name in the target's own directory (same file system, so the final
``os.replace`` is an atomic rename), flushed and fsynced first. A crash or Ctrl-C before the rename
leaves only a temporary name, which is removed on the way out when Python still runs.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text with LF line ends, atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(frame, path: str | os.PathLike) -> Path:
    """A Polars DataFrame as CSV (UTF-8, LF, header), atomically."""
    return write_bytes_atomic(path, frame.write_csv().encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, force: bool = False):
    """Build a directory under a temporary name and move it into place when the block succeeds.

    Yields the temporary directory's path. If ``target`` exists and ``force`` is false,
    ``FileExistsError`` is raised before anything is written. With ``force``, the old directory is
    replaced only after the new one is complete (renamed aside, new renamed in, old removed).
    On any exception (including KeyboardInterrupt) the temporary directory is removed and the target
    is left as it was.
    """
    target = Path(target)
    if target.exists() and not force:
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for child in tmp.iterdir():
            if child.is_file():
                with open(child, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.rmdir(aside)
            os.replace(target, aside)
            os.replace(tmp, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
