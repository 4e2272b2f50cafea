"""Atomic writes: a file or a whole run directory appears complete or not at all.

Data is written under a temporary name in the target's own directory (same file system, so the final
rename is atomic), flushed and fsynced first. What a crash can leave behind, and who removes it:

- a file ``.NAME.PID-XXXXXXXX.tmp`` beside a file written by :func:`write_bytes_atomic`: removed by
  the next write of the same file once process PID is gone;
- a directory ``.NAME.PID-XXXXXXXX.tmp`` (a run being built, or an earlier run being deleted after it
  was replaced) beside a run directory: removed by the next :func:`atomic_directory` on the same
  target, which holds the target's lock, so no live writer can own it;
- ``.NAME.PID-XXXXXXXX.old`` (an earlier run moved aside, only where the kernel cannot swap two
  directories in one rename): put back in place when the target is missing, else removed.

The target itself is never partial: it is either absent, the earlier complete run, or the new one.
A replaced run is swapped with the new one in a single ``renameat2(RENAME_EXCHANGE)`` on Linux.

Two writers of one run directory are kept apart by an advisory lock (``flock``) on ``.NAME.lock``
beside it: the second gets :class:`RunDirectoryLockedError` (exit 2) at once, never a mixed
directory. The lock file is removed when the lock is released; one left by a killed process holds no
lock (the kernel drops it with the process) and is reused.

New directories and files get the permissions the process umask gives (``0o777``/``0o666`` masked),
like any file the user creates, not ``tempfile``'s private ``0o700``/``0o600``.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import threading
from pathlib import Path

from ..errors import OutputExistsError, OutputWriteError, ShapleyAttrError, UsageError

try:  # POSIX advisory locks; elsewhere the lock is a no-op (documented above as advisory)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TOOL = "shapley_attr"
"""The ``tool`` value of an engine run's ``manifest.json``: the only directories ``force`` replaces."""


class RunDirectoryExistsError(OutputExistsError, FileExistsError):
    """The target exists and may not be replaced (no ``force``, or not a run of this engine). Exit 2."""


class RunDirectoryLockedError(ShapleyAttrError, BlockingIOError):
    """Another process is writing the same run directory. Exit 2; nothing was written."""


# --- small helpers ------------------------------------------------------------------------------
def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_name(target: Path, kind: str) -> Path:
    """``.NAME.PID-XXXXXXXX.KIND`` beside ``target``: the PID says whose it is, the token makes it unique."""
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def _leftovers(target: Path, kinds: tuple[str, ...]) -> list[tuple[Path, int, str]]:
    """Temporary names of ``target`` in its directory: (path, pid, kind)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)-[0-9a-f]{{8}}\.({'|'.join(kinds)})$")
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            m = pattern.match(entry.name)
            if m:
                found.append((Path(entry.path), int(m.group(1)), m.group(2)))
    return sorted(found)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _rmtree(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


# --- renames the kernel does in one step ----------------------------------------------------------
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when the kernel or file system does not offer it."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


# --- the lock -------------------------------------------------------------------------------------
_held: dict[str, list] = {}  # lock path -> [fd, depth]: re-entrant within one process
_held_guard = threading.Lock()


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of run directory ``target``: ``.NAME.lock`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path`` (created if needed), or None if someone holds it.

    After locking, the path must still name the locked file: a releaser unlinks the file before it
    unlocks, so a lock won on an unlinked file is worthless and is tried again.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def run_directory_lock(target: str | os.PathLike):
    """Hold the exclusive lock of run directory ``target`` for the block (re-entrant in a process).

    Raises :class:`RunDirectoryLockedError` at once when another process holds it. A caller may take
    it early (e.g. before reading the inputs) so that a second run fails fast; :func:`atomic_directory`
    takes it again (re-entrantly) in any case.
    """
    target = Path(target)
    if fcntl is None:  # pragma: no cover
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    key = os.path.abspath(path)
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
        else:
            fd = _try_lock(path)
            if fd is None:
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = f" (process {int(path.read_text().strip())})"
                raise RunDirectoryLockedError(
                    f"{target}: another run is writing this directory{holder}; nothing was written "
                    f"(lock file {path})")
            entry = _held[key] = [fd, 1]
    try:
        yield
    finally:
        with _held_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # before unlocking: see _try_lock
                os.close(entry[0])


# --- what may be replaced -------------------------------------------------------------------------
def is_engine_run(path: str | os.PathLike) -> bool:
    """True when ``path`` is a real directory (not a link) holding a ``manifest.json`` of this engine."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        with open(path / "manifest.json", "rb") as fh:
            manifest = json.loads(fh.read(1 << 24))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("tool") == TOOL


def _refuse_existing(target: Path, force: bool) -> None:
    if not force:
        raise RunDirectoryExistsError(f"{target}: run directory exists; nothing was written "
                                      "(use --force to replace it)")
    if not is_engine_run(target):
        what = ("a symbolic link" if target.is_symlink() else "a directory without a shapley_attr manifest.json"
                if target.is_dir() else "not a directory")
        raise RunDirectoryExistsError(f"{target}: exists and is {what}; --force replaces only an earlier run "
                                      "directory of shapley_attr; nothing in it was touched")


def clean_leftovers(target: str | os.PathLike) -> list[Path]:
    """Remove what killed writers of run directory ``target`` left beside it; returns what was removed.

    Call with the target's lock held. A run moved aside (``.old``) while the target is missing is the
    last complete run: it is put back instead.
    """
    target = Path(target)
    removed = []
    olds = [p for p, _, kind in _leftovers(target, ("old",)) if kind == "old"]
    if olds and not os.path.lexists(target):
        newest = max(olds, key=lambda p: p.stat().st_mtime_ns)
        if is_engine_run(newest):
            os.rename(newest, target)
            olds.remove(newest)
    for path, _, _ in _leftovers(target, ("tmp", "old")):
        if path.exists() or path.is_symlink():
            _rmtree(path)
            removed.append(path)
    if removed:
        _fsync_dir(target.parent)
    return removed


# --- SIGTERM during the write: clean up, then exit -------------------------------------------------
_SIGNALLED: list[int] = []
"""The SIGTERMs :func:`_sigterm_raises` turned into exits in this process (see :func:`signalled_exit`)."""


def signals_noted() -> int:
    """How many SIGTERMs this process has noted so far (``since`` for :func:`signalled_exit`)."""
    return len(_SIGNALLED)


def signalled_exit(since: int = 0) -> SystemExit | None:
    """The exit a SIGTERM asked for during a write, if one came (after the first ``since`` noted): for
    the CLI's last line of defence, which must not report as an engine failure an exception that
    stands in for that exit. A C extension can swallow the SystemExit the handler raised and raise an
    error of its own without chaining it (matplotlib drawing the report's charts: ``ValueError:
    Invalid affine transformation matrix``, seen in tests/test_crash.py's seeded kill test)."""
    return SystemExit(128 + _SIGNALLED[since]) if len(_SIGNALLED) > since else None


def _no_stop() -> None:
    """What :func:`_sigterm_raises` yields where it leaves SIGTERM alone."""


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into ``SystemExit(143)`` for the block, so that the ``except`` clauses below remove
    the temporary directory. Only from the main thread and only when nobody else handles SIGTERM.

    Python runs the handler between any two bytecodes, also inside a callback whose exceptions it
    ignores (a weak reference's, such as the import system's module locks, or a ``__del__``): there
    the exit would be lost, printed as an ignored exception, and the run would go on. So the signal is
    also noted: such an ignored exit is not printed, the block's caller calls the yielded function
    before anything is published (it raises the exit if a SIGTERM came), and the block ends with the
    exit if one came and was lost. (Seen in tests/test_crash.py's seeded kill test.)"""
    if threading.current_thread() is not threading.main_thread():
        yield _no_stop
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover
        yield _no_stop
        return
    if previous is not signal.SIG_DFL:
        yield _no_stop
        return
    start = len(_SIGNALLED)  # the signals this block receives are the ones noted after these

    def handler(signum, frame):
        _SIGNALLED.append(signum)
        raise SystemExit(128 + signum)

    def stop_if_signalled() -> None:
        stop = signalled_exit(start)
        if stop is not None:
            raise stop

    previous_hook = sys.unraisablehook

    def unraisable(info) -> None:  # the exit raised inside a callback Python ignores: noted above
        if not (signalled_exit(start) is not None and isinstance(info.exc_value, SystemExit)):
            previous_hook(info)

    sys.unraisablehook = unraisable
    signal.signal(signal.SIGTERM, handler)
    try:
        yield stop_if_signalled
        stop_if_signalled()  # the block ended normally: an exit lost on its way is raised here
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook


# --- files ----------------------------------------------------------------------------------------
def _clean_stale_files(path: Path) -> None:
    for tmp, pid, _ in _leftovers(path, ("tmp",)):
        if not _pid_alive(pid) and tmp.is_file() and not tmp.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _kind(mode: int) -> str:
    return ("a directory" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def output_problem(path: str | os.PathLike, *, directory: bool = False) -> str | None:
    """Why ``path`` cannot take an output file (or, with ``directory``, a run directory), or None.
    A symbolic link is followed (a file is written through it: :func:`write_bytes_atomic`); an
    existing file must be a regular one (a FIFO, a device or ``/dev/stdout`` would be replaced by the
    rename, or block), and the nearest existing ancestor a directory."""
    target = Path(os.path.realpath(path))
    try:  # the path itself, links followed (/dev/stdout's link into /proc gives its pipe, not a name)
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # new, or under a file: the ancestors say which
        mode = None
    except OSError as exc:
        return f"cannot be used: {exc.strerror}"
    if mode is not None and not (stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)):
        return f"is {_kind(mode)}: expected {'a directory' if directory else 'a regular file'} or a new path"
    parent = target.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    return None


def check_outputs(outputs, inputs=(), *, directory: str | None = None) -> None:
    """:class:`UsageError` (exit 2, before anything is read or written) when an output path cannot take
    its output (:func:`output_problem`), two outputs are one file, or an output is one of the
    ``inputs``; ``outputs`` and ``inputs`` are ``(option, path)`` pairs (a None path is skipped).
    ``directory`` names the option among ``outputs`` that is a run directory: no input may be inside it
    (``--force`` would delete it with the run it replaces)."""
    seen: dict[str, str] = {}
    given_inputs = [(opt, Path(p)) for opt, p in inputs if p is not None and isinstance(p, (str, os.PathLike))]
    for opt, path in outputs:
        if path is None:
            continue
        problem = output_problem(path, directory=opt == directory)
        if problem:
            stdout = opt == "--out" and directory is None and os.path.exists(path)
            raise UsageError(f"{opt} {path}: {problem}" + ("; without --out the table goes to standard output"
                                                            if stdout else ""))
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{seen[real]} and {opt} name the same file {path}: expected different paths")
        seen[real] = opt
        for in_opt, in_path in given_inputs:
            same = os.path.realpath(in_path) == real
            if not same and os.path.exists(path) and os.path.exists(in_path):
                same = os.path.samefile(path, in_path)
            inside = opt == directory and os.path.realpath(in_path).startswith(real.rstrip(os.sep) + os.sep)
            if same or inside:
                raise UsageError(f"{opt} {path}: {'is' if same else 'holds'} the input given by {in_opt} "
                                 f"({in_path}); refusing to write over it")


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, follow_links: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename. A symbolic link the user
    named is written through (its target replaced, the link kept); with ``follow_links=False`` (a file
    inside a run directory, where a link could point anywhere) the link itself is replaced. A path that
    is no regular file nor a new one (a FIFO, a device) is refused with :class:`UsageError`."""
    problem = output_problem(path)
    if problem:
        raise UsageError(f"{path}: {problem}")
    path = Path(os.path.realpath(path)) if follow_links and os.path.islink(path) else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_files(path)
    tmp = _temp_name(path, "tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _raise_if_no_room(exc, path)
        raise
    _fsync_dir(path.parent)
    return path


NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""Write failures of the machine, not of the engine: reported naming the target (exit 2, not an internal
error without a file name)."""


def _raise_if_no_room(exc: BaseException, target: Path) -> None:
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        raise OutputWriteError(f"{target}: cannot be written ({exc.strerror or exc}); nothing was published, "
                               "the target is as it was") from exc


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text with LF line ends, atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


# --- directories ----------------------------------------------------------------------------------
def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(Path(dirpath))


def _make_temp_dir(target: Path) -> Path:
    while True:
        tmp = _temp_name(target, "tmp")
        try:
            os.mkdir(tmp, 0o777)  # the umask decides, as for any directory the user makes
            return tmp
        except FileExistsError:
            continue


def _move_into_place(tmp: Path, target: Path, replace: bool) -> None:
    if not replace:
        try:
            if _rename2(tmp, target, _RENAME_NOREPLACE):
                return
        except FileExistsError:
            raise RunDirectoryExistsError(f"{target}: appeared while the run was written; nothing was replaced") from None
        if os.path.lexists(target):  # no renameat2 here: check, then rename (we hold the lock)
            raise RunDirectoryExistsError(f"{target}: appeared while the run was written; nothing was replaced")
        os.rename(tmp, target)
        return
    if _rename2(tmp, target, _RENAME_EXCHANGE):
        _rmtree(tmp)  # now holds the earlier run; if this is cut short, the next run finishes it
        return
    # no atomic swap here: move the earlier run aside (restored by clean_leftovers if we die between)
    aside = _temp_name(target, "old")
    os.rename(target, aside)
    os.rename(tmp, target)
    _rmtree(aside)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, force: bool = False):
    """Build a directory under a temporary name and move it into place when the block succeeds.

    Yields the temporary directory's path. The target's lock is held throughout (a concurrent writer
    gets :class:`RunDirectoryLockedError`), and leftovers of killed earlier writers are removed first.
    If ``target`` exists, :class:`RunDirectoryExistsError` (a ``FileExistsError``) is raised before
    anything is written unless ``force`` is given and the target is an earlier run of this engine
    (:func:`is_engine_run`); any other existing path is never touched. A replaced run is swapped with
    the new one atomically. On any exception (including KeyboardInterrupt, and SIGTERM, which exits
    with status 143) the temporary directory is removed and the target is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with run_directory_lock(target), _sigterm_raises() as stop_if_signalled:
        clean_leftovers(target)
        replace = os.path.lexists(target)
        if replace:
            _refuse_existing(target, force)
        tmp = _make_temp_dir(target)
        try:
            yield tmp
            _fsync_tree(tmp)
            stop_if_signalled()  # a SIGTERM whose exit a callback swallowed: nothing is published
            _move_into_place(tmp, target, replace)
            _fsync_dir(target.parent)
        except BaseException as exc:
            _rmtree(tmp)
            _raise_if_no_room(exc, target)
            raise
