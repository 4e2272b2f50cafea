"""The one JIT policy of the package (numba-stats style).

Every kernel is compiled with ``cache=True`` (the second run of the CLI loads machine code from the
cache instead of compiling), ``nogil=True`` (callers may run kernels from threads),
``error_model="numpy"`` (no Python exception checks on division in hot loops) and ``fastmath`` off:
reassociated float sums would change the last bits between builds and break byte-identical reruns.

Where the cache goes. Numba writes it beside the sources (``kernels/__pycache__``) and, when that is
not writable (a read-only install: a system package, a container image), in the user's cache
directory (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``). When neither is writable (no home, or a
read-only one, as in many containers) Numba refuses to decorate a cached function at all, so
importing a kernel would fail. Before numba is imported, :func:`_choose_cache_dir` checks both and,
only when both are unusable, points ``NUMBA_CACHE_DIR`` at a private directory under the system's
temporary directory; if even that cannot be written, kernels are compiled without a cache (slower
start, same results). A ``NUMBA_CACHE_DIR`` set by the user is left alone.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _writable(path: Path) -> bool:
    """What numba checks: the directory can be made and a file created in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _user_cache_dir() -> Path:
    """Numba's own user-wide cache root (appdirs' rule on Linux; ``~/Library/Caches`` and
    ``%LOCALAPPDATA%`` elsewhere are only probed, never written here)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "numba"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "numba"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"


def _choose_cache_dir() -> str | None:
    """``None`` when numba's own choice works, else a writable directory, else ``""`` (no cache)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(Path(__file__).resolve().parent / "__pycache__"):
        return None
    try:
        if _writable(_user_cache_dir()):
            return None
    except (OSError, RuntimeError):  # RuntimeError: Path.home() without a home
        pass
    uid = os.getuid() if hasattr(os, "getuid") else None
    private = Path(tempfile.gettempdir()) / f"shapley_attr-{uid if uid is not None else 'user'}"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        st = private.lstat()
    except OSError:
        return ""
    # machine code is loaded from here: only from a real directory of our own that nobody else can write
    if private.is_symlink() or (uid is not None and st.st_uid != uid) or st.st_mode & 0o022:
        return ""
    fallback = private / "numba"
    return str(fallback) if _writable(fallback) else ""


CACHE_DIR = _choose_cache_dir()
"""None: numba's default locations; a path: the fallback in use; "": no cache could be written."""
if CACHE_DIR:
    os.environ["NUMBA_CACHE_DIR"] = CACHE_DIR
    if "numba" in sys.modules:  # numba read its configuration already
        sys.modules["numba"].config.CACHE_DIR = CACHE_DIR


def _import_numba():
    """Import numba and its array library with SciPy's BLAS hidden from the library's import-time
    probe: numba.np.arraymath imports ``scipy.linalg.cython_blas`` to choose how np.convolve and
    np.correlate take inner products (nothing else reads the probe; np.dot and np.linalg look for
    the BLAS when they compile, and find it), and importing scipy.linalg cost ~0.1 s of CPU, plus
    the spin of SciPy's OpenBLAS threads, in every run, for functions no kernel calls (numba + the
    journey kernels: CPU 0.57 -> 0.35-0.40 s). SciPy itself imports as usual afterwards."""
    probe = "scipy.linalg.cython_blas"
    hide = probe not in sys.modules and "numba.np.arraymath" not in sys.modules
    if hide:
        sys.modules[probe] = None  # an import of it fails at once, without importing scipy.linalg
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if hide and sys.modules.get(probe, 0) is None:
            del sys.modules[probe]


_ORIGINAL_LOAD = ("refresh", "_guard_against_spurious_io_errors", "_load_overload")
"""The names numba's ``Cache.load_overload`` uses (0.60-0.68): the method :func:`_load_without_registries`
replaces, as long as it still reads exactly these."""


def _load_without_registries() -> bool:
    """Load cached kernels without first installing numba's typing and lowering registries.

    Before it loads a cached kernel, numba refreshes its contexts: it imports and installs every
    typing template and implementation it has (numpy, the typed containers, random generators, ...),
    which is what compiling needs and what loading machine code does not. That refresh was the
    largest part of loading a run's kernels: 0.25-0.5 s of CPU of the ~1.0 s (importing the events
    path's kernels after polars and numpy, 3 runs each), in every command, on the cores that read the
    input meanwhile. Loading needs the runtime (NRT) alone, which is initialised here instead; the
    registries are still installed on the first compile, because numba's compiler refreshes its
    contexts itself (a missing or stale cache entry, a kernel without a signature, a user's own
    ``numba.njit``). The method is replaced only while it is the one this was written against
    (:data:`_ORIGINAL_LOAD`); another numba keeps its own. Returns whether it was replaced."""
    from numba.core import caching
    from numba.core.runtime import rtsys

    original = caching.Cache.load_overload
    if getattr(original, "_without_registries", False):
        return True
    if original.__code__.co_names != _ORIGINAL_LOAD:
        return False

    def load_overload(self, sig, target_context):
        rtsys.initialize(target_context)  # what the refresh did that a cached kernel needs
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    load_overload._without_registries = True
    load_overload.__doc__ = original.__doc__
    caching.Cache.load_overload = load_overload
    return True


_import_numba()
LOADS_WITHOUT_REGISTRIES = _load_without_registries()
import numba  # noqa: E402  (after the cache directory is settled)
from numba import prange, types  # noqa: E402,F401  (kernel modules take numba's names from here: see below)

# Kernel modules import numba's names from this module, never numba itself first: whichever thread
# imports this module first then initialises numba whole (its array library included) while the
# other waits on this module, so two threads never import numba's modules in different orders (the
# preload thread and the main thread did: a circular-import error inside numba).

# cache=False only when no cache directory at all can be written (see the module docstring)
_COMMON = dict(cache=CACHE_DIR != "", nogil=True, error_model="numpy", fastmath=False)


def kernel(signature=None, *, parallel: bool = False, inline: bool = False):
    """Decorator for a compiled kernel. ``signature`` may be omitted for kernels with many call types.
    ``inline``: a small helper compiled into each caller's own code (numba's IR inlining), for the
    per-byte helpers of a hot loop, where a call each time costs more than the work."""
    options = dict(_COMMON, inline="always") if inline else _COMMON
    if signature is None:
        return numba.njit(parallel=parallel, **options)
    return numba.njit(signature, parallel=parallel, **options)
