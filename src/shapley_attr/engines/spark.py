"""The Spark engine: the same read, validation, FX and journey cut as the local engine, on Apache Spark.

What runs where (docs/spark.md has the plan for 1B and 10B events):

- **executors**, all inside ``mapInArrow`` with the project's own code (``engines._spark_tasks``):
  the dictionary pass (row counts per input partition and the distinct channel labels); validation
  of every chunk of rows with :func:`io.events.validate_events` (byte-identical reject reasons,
  values and typed columns), the FX as-of lookup of the run's conversions and the records of the
  reconciliation; then, after ``repartition`` by the user hash and ``sortWithinPartitions`` by
  (user, time key ``2·t + is_conversion``, row), the journey cut kernel on whole users (a user's
  rows carried across Arrow batches) and each chunk's unique paths. Partial path tables are summed
  by path in Spark with exact integer sums (value in integer millionths as ``decimal(38,0)``), so
  the table does not depend on partitioning or order.
- **Spark aggregations**: duplicate order ids (global: the first row wins), per-currency sums as
  ``decimal(38,6)``, per-country run GMV in millionths, the first conversion without an FX rate.
- **the driver** receives only small things, as Arrow: the channel dictionary, row counts per
  partition, the unique-paths table, the aggregates, the duplicate order ids and the rejected rows
  (``rejects.csv`` is written by the same writer as the local engine's). It builds the
  :class:`~shapley_attr.frames.PathTable` with :func:`frames.canonical_order`, so the models,
  payouts and writers get exactly the table the local engine gives them.

Rows are numbered as the local engine numbers them (``__row``, 1-based row of the file): Parquet by
``_metadata.row_index`` (several files in path order), other sources by the position in the
partitions of one read (a single CSV file's splits are in file order; a DataFrame handed in must be
deterministic, e.g. read from files).

Not on Spark: the time-decay model (its per-touch ages keep every journey apart, so the table is not
bounded by the unique paths) and ``--bootstrap`` over journeys (it resamples every journey's own
value); both are refused with a message saying what to do instead.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import UNREADABLE, InputError, UsageError
from ..frames import (VALUE_UNITS, PathTable, canonical_order, check_exact_total, drop_unused_channels,
                      take_paths)
from ..io.readers import MAX_DECIMAL_DIGITS
from ..reconcile import CurrencyTotals, Reconciliation, currency_totals
from ..schema import DIRECT, EVENT_COLUMNS
from . import FxRates, LoadedInput
from . import _spark_tasks as tasks

MIN_JAVA = 17
CHUNK_ROWS = 1_000_000
"""Rows an executor validates or cuts at once (bounds a Python worker's memory to a few hundred MB)."""
CHUNK_ROWS_CONF = "spark.shapley_attr.chunkRows"
"""Spark configuration key overriding :data:`CHUNK_ROWS` (tests set it small to carry users across chunks)."""
START_TIMEOUT = 600.0
START_TIMEOUT_CONF = "spark.shapley_attr.startTimeoutSeconds"
"""Seconds the engine's jobs may wait with stages ready and no task running or finishing (a cluster with
no free executors would let them wait forever) before they are cancelled: exit 1, never a hang."""
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # the CLI's stderr is the run summary, not progress bars
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
}
"""Settings of a session this engine starts itself on ``local[...]`` (``--spark-conf`` overrides)."""
SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.caseSensitive": "true",  # column names as the local engine reads them
    # a Parquet timestamp in nanoseconds (Polars' and pyarrow's Datetime("ns")) is refused by Spark's
    # reader (PARQUET_TYPE_ILLEGAL); read as its integer, it is epoch nanoseconds, which the events
    # contract reads by magnitude, as the local engine reads the timestamp itself
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
DUPLICATE_REASON = "duplicate order_id: expected unique per conversion (first at row {})"
"""The reason :func:`io.events.validate_events` gives a duplicate order id (its ``pl.format``)."""
_NOT_ON_SPARK = {
    "time-decay": ("the time-decay model is not available on --engine spark: it weights every touch by its own "
                   "age, so journeys cannot be merged into unique paths and every journey would have to reach "
                   "the driver. Use --engine local for time-decay (10M events take ~5 s), or another model "
                   "(position, linear, shapley, markov, hybrid) on Spark"),
    "bootstrap": ("--bootstrap is not available on --engine spark: it resamples every converting journey's own "
                  "value, so all of them (not just the unique paths) would have to reach the driver. Run the "
                  "bootstrap with --engine local, or leave it off on Spark"),
}

_SESSION_INFO: dict = {}
"""The session the last :func:`load` ran on (version, master, configuration), for :func:`describe`."""


# --- session ------------------------------------------------------------------------------------------
def _import_pyspark():
    try:
        import pyspark
        from pyspark.sql import SparkSession  # noqa: F401
    except ImportError:
        raise UsageError("--engine spark needs PySpark 4 with its SQL extras: pip install 'shapley_attr[spark]'"
                         ) from None
    major = int(pyspark.__version__.split(".")[0])
    if major < 4:
        raise UsageError(f"--engine spark needs PySpark 4, found {pyspark.__version__}: "
                         "pip install 'shapley_attr[spark]'")
    return pyspark


def java_version(java: str | None = None) -> int | None:
    """The major version of the Java Spark would start (``JAVA_HOME``, else ``java`` on the PATH), or
    None when there is none."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major  # "1.8" is Java 8


def check_java() -> None:
    """Refuse (exit 2) with what to install when no Java 17+ is there for Spark to start."""
    found = java_version()
    home = os.environ.get("JAVA_HOME")
    if found is None and home:
        raise UsageError(f"--engine spark needs Java {MIN_JAVA} or newer: JAVA_HOME is {home}, which has no working "
                         "bin/java: point JAVA_HOME at a JDK (or unset it to use the java on the PATH)")
    if found is None:
        raise UsageError(f"--engine spark needs Java {MIN_JAVA} or newer and none was found (JAVA_HOME unset and no "
                         f"java on the PATH): install a JDK, e.g. apt-get install openjdk-{MIN_JAVA}-jre-headless, "
                         "or set JAVA_HOME")
    if found < MIN_JAVA:
        raise UsageError(f"--engine spark needs Java {MIN_JAVA} or newer, found Java {found}: install Java "
                         f"{MIN_JAVA} (e.g. openjdk-{MIN_JAVA}-jre-headless) and point JAVA_HOME at it")


def session(config, source=None):
    """The SparkSession to run on: the DataFrame's own, the active one (``--spark-conf`` settings are
    applied to it), or a new one on ``--spark-master`` (default ``local[*]``)."""
    _import_pyspark()
    from pyspark.sql import DataFrame, SparkSession

    conf = dict(config.spark_conf)
    if isinstance(source, DataFrame):
        spark = source.sparkSession
        for k, v in conf.items():
            spark.conf.set(k, v)
        return spark
    active = SparkSession.getActiveSession()
    if active is None:
        check_java()
    builder = SparkSession.builder.appName("shapley_attr")
    master = config.spark_master or ("local[*]" if active is None else None)
    if master:
        builder = builder.master(master)
    user_sql = {k: v for k, v in conf.items() if k.startswith("spark.sql.")} if active is None else {}
    if active is None:
        settings = dict(SESSION_DEFAULTS)
        if master.startswith("local"):
            # the executors' Python is this one (with polars and the kernels), not whatever python3 is first
            # on the PATH; on a cluster the executors' environment is the deployment's (docs/spark.md)
            settings.update(LOCAL_DEFAULTS, **{"spark.pyspark.python": sys.executable})
        for k, v in (settings | conf).items():
            if k not in user_sql:
                builder = builder.config(k, v)
    else:
        for k, v in conf.items():
            builder = builder.config(k, v)
    with _worker_python(master if active is None else None), _session_errors(master):
        spark = builder.getOrCreate()
        static = _set_sql_conf(spark, user_sql)
        if static:  # settings a session takes only when it starts (spark.sql.extensions): started again
            spark.stop()
            for k, v in static.items():
                builder = builder.config(k, v)
            spark = builder.getOrCreate()
            _set_sql_conf(spark, {k: v for k, v in user_sql.items() if k not in static})
    if active is None:
        spark.sparkContext.setLogLevel(conf.get("spark.log.level", "ERROR"))  # Spark's warnings are not the run's
    return spark


def _set_sql_conf(spark, conf: dict) -> dict:
    """Set the ``--spark-conf`` SQL settings on a running session, where Spark checks each value as it
    is set: one it cannot parse is refused (exit 2) naming it. Given to the session's builder, such a
    value (``spark.sql.shuffle.partitions=abc``) was parsed at the first query, and every error PySpark
    then converted read the SQL settings again: the command never ended. Returns the static settings
    (those a session takes only when it starts), which the caller starts the session again with."""
    from pyspark.errors import PySparkException

    static = {}
    for key, value in conf.items():
        try:
            spark.conf.set(key, value)
        except (PySparkException, _py4j_error()) as exc:
            text = str(exc)
            if "STATIC" in text.upper() and "CANNOT_MODIFY" in text.upper().replace(" ", "_"):
                static[key] = value
                continue
            raise UsageError(f"--spark-conf {key}={value}: Spark refuses the value ({spark_message(exc, 300)})"
                             ) from None
    return static


@contextlib.contextmanager
def _worker_python(master: str | None):
    """On a local master, the workers' Python is this one (polars, the kernels), not whatever
    ``python3`` is first on the PATH: PySpark started from Python reads ``PYSPARK_PYTHON`` when the
    context starts, not ``spark.pyspark.python`` (which ``spark-submit`` reads), so the venv's command
    run without the venv on the PATH failed every job (No module named 'pyarrow'). Put back after."""
    if not (master and master.startswith("local")) or os.environ.get("PYSPARK_PYTHON"):
        yield
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        yield
    finally:
        os.environ.pop("PYSPARK_PYTHON", None)


@contextlib.contextmanager
def _session_errors(master: str | None):
    """A session that cannot start (an unreachable master, a setting the JVM refuses) is exit 1 with
    Spark's own message, not a JVM stack."""
    try:
        yield
    except (_py4j_error(), RuntimeError) as exc:
        from pyspark.errors import PySparkException

        if isinstance(exc, SparkJobFailed):
            raise
        text = spark_message(exc) if isinstance(exc, (PySparkException, _py4j_error())) else str(exc)
        raise SparkJobFailed(f"Spark could not start a session on {master or 'the active master'}: {text}") from exc


def describe(config) -> dict:
    """The manifest's ``engine`` entry: name, Spark version, master and configuration of the run."""
    record = {"name": "spark", "spark_version": _SESSION_INFO.get("spark_version"),
              "master": _SESSION_INFO.get("master", config.spark_master),
              "conf": dict(sorted(_SESSION_INFO.get("conf", dict(config.spark_conf)).items()))}
    if "stages_s" in _SESSION_INFO:
        record["stages_s"] = dict(_SESSION_INFO["stages_s"])
    if record["spark_version"] is None:
        try:
            import pyspark

            record["spark_version"] = pyspark.__version__
        except ImportError:
            pass
    return record


_RECORDED_CONF = ("spark.sql.shuffle.partitions", "spark.sql.execution.arrow.maxRecordsPerBatch",
                  "spark.sql.files.maxPartitionBytes", "spark.executor.memory", "spark.driver.memory",
                  "spark.sql.session.timeZone", CHUNK_ROWS_CONF)


def _remember(spark, config) -> None:
    conf = {}
    for key in _RECORDED_CONF + tuple(k for k, _ in config.spark_conf):
        value = spark.conf.get(key, None)
        if value is not None:
            conf[key] = value
    _SESSION_INFO.clear()
    _SESSION_INFO.update({"spark_version": spark.version, "master": spark.sparkContext.master, "conf": conf})


@contextlib.contextmanager
def _step(name: str):
    """Seconds of one stage of the last load (the manifest's engine entry: where a Spark run spends its time)."""
    import time

    t0 = time.perf_counter()
    try:
        yield
    finally:
        _SESSION_INFO.setdefault("stages_s", {})[name] = round(time.perf_counter() - t0, 3)


# --- errors -------------------------------------------------------------------------------------------
class SparkJobFailed(RuntimeError):
    """A Spark job failed (exit 1): the message is Spark's, without the JVM stack."""


def spark_message(exc: BaseException, limit: int = 1500) -> str:
    """Spark's message without stack frames: its first lines and, for a failure in Python on an
    executor, the Python exception itself."""
    text = str(exc)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("at ", "File \""))]
    head = " ".join(ln.strip() for ln in lines[:3])
    python = [ln.strip() for ln in lines if re.match(r"^\s*[A-Za-z_.]+(Error|Exception): ", ln)]
    if python and python[-1] not in head:
        head += " | " + python[-1]
    return head[:limit] if head else type(exc).__name__


class Watchdog:
    """Cancels this load's jobs (one job group) when Spark has stages of them waiting and no task of
    them running or finishing for ``timeout`` seconds: no executor takes the work (a cluster without
    free resources, executors lost for good). A long task that runs is never cancelled."""

    def __init__(self, sc, group: str, timeout: float, poll: float = 1.0):
        self.sc, self.group, self.timeout, self.poll = sc, group, timeout, poll
        self.fired = False
        self._progress = -1
        self._idle_since: float | None = None

    @property
    def message(self) -> str:
        return (f"no Spark task started or finished for {self.timeout:g} s while the engine's jobs had work "
                f"waiting: the cluster gave this application no executor (check --spark-master, "
                f"spark.executor.instances/cores/memory and the cluster's free resources); jobs cancelled "
                f"({START_TIMEOUT_CONF} sets the wait)")

    def check(self, now: float) -> bool:
        """One look at the job group's stages; True (and the jobs cancelled) when they starve."""
        tracker = self.sc.statusTracker()
        stages = []
        for job in tracker.getJobIdsForGroup(self.group):
            info = tracker.getJobInfo(job)
            if info is not None and str(info.status) == "RUNNING":
                stages += [tracker.getStageInfo(s) for s in info.stageIds]
        stages = [st for st in stages if st is not None and st.numTasks > st.numCompletedTasks]
        running = sum(st.numActiveTasks for st in stages)
        progress = sum(st.numCompletedTasks + st.numFailedTasks for st in stages)
        if not stages or running or progress != self._progress:
            self._progress, self._idle_since = progress, None
            return False
        if self._idle_since is None:
            self._idle_since = now
            return False
        if now - self._idle_since < self.timeout:
            return False
        self.fired = True
        self.sc.cancelJobGroup(self.group)
        return True

    @contextlib.contextmanager
    def watching(self):
        import threading
        import time

        stop = threading.Event()

        def loop():
            while not stop.wait(self.poll):
                try:
                    if self.check(time.monotonic()):
                        return
                except Exception:  # noqa: BLE001 - a status query failing must not fail the run
                    continue

        self.sc.setJobGroup(self.group, "shapley_attr engine", interruptOnCancel=True)
        thread = threading.Thread(target=loop, name="shapley_attr-spark-watchdog", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


@contextlib.contextmanager
def spark_errors(name: str, watchdog: Watchdog | None = None):
    """Spark's failures as the CLI's exit codes: an input that is not there or whose bytes cannot be
    decoded is exit 2 (as with the local engine), any other failed job exit 1 with Spark's message; a
    job the ``watchdog`` cancelled (no executor took its work) exit 1 saying so."""
    from pyspark.errors import AnalysisException, PySparkException

    try:
        yield
    except AnalysisException as exc:
        if getattr(exc, "getCondition", lambda: None)() == "PATH_NOT_FOUND" or "PATH_NOT_FOUND" in str(exc):
            raise InputError(name, "file not found") from None
        if any(code in str(exc) for code in UNREADABLE_TYPE_CONDITIONS):  # files _check_parquet_footer did not see
            raise InputError(name, f"a column of a type Spark cannot read: {SPARK_TYPE_HINT} "
                                   f"({spark_message(exc, 300)})") from None
        raise SparkJobFailed(f"Spark could not plan the job on {name}: {spark_message(exc)}") from exc
    except (PySparkException, _py4j_error()) as exc:
        if watchdog is not None and watchdog.fired:
            raise SparkJobFailed(f"Spark job cancelled on {name}: {watchdog.message}") from exc
        if "FAILED_READ_FILE" in str(exc):  # the file's bytes, as the local engine's decoding(): bad input
            raise InputError(name, f"{UNREADABLE}: {spark_message(exc, 600)}") from None
        if "DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION" in str(exc):  # a file _check_parquet_footer did not see
            raise InputError(name, f"a decimal column of more than {SPARK_DECIMAL_DIGITS} digits, which Spark cannot "
                                   f"read: {WIDE_DECIMAL_HINT} ({spark_message(exc, 300)})") from None
        raise SparkJobFailed(f"Spark job failed on {name}: {spark_message(exc)}") from exc


def _py4j_error():
    try:
        from py4j.protocol import Py4JError

        return Py4JError
    except ImportError:  # pragma: no cover - py4j comes with pyspark
        return RuntimeError


# --- reading ------------------------------------------------------------------------------------------
def _is_local_path(text: str) -> bool:
    return "://" not in text or text.startswith("file://")


def _remote_parts(spark, url: str) -> list[str] | None:
    """The data files of a directory at ``url`` (Hadoop's file systems: s3a, gs, abfs, hdfs), in path
    order, by the local listing's rule (:func:`io.readers.data_files`: no part of the path below the
    directory starting with ``_`` or ``.``, empty files skipped); None when ``url`` is a file. One
    Spark read of the directory numbered its rows in split order (largest file first), so a reject's
    row named no line a user could find."""
    from ..io.readers import HIDDEN

    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(url)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    status = fs.getFileStatus(root)
    if not status.isDirectory():
        return None
    base = status.getPath().toUri().getPath().rstrip("/") + "/"
    files, listing = [], fs.listFiles(root, True)
    while listing.hasNext():
        entry = listing.next()
        where = entry.getPath()
        below = where.toUri().getPath()[len(base):]
        if entry.getLen() == 0 or any(part.startswith(HIDDEN) for part in below.split("/")):
            continue
        files.append((below, where.toString()))
    return [full for _, full in sorted(files)]


def read_source(spark, source, mapping):
    """``source`` as a Spark DataFrame with the contract's column names, its display name, and how its
    rows are numbered: ``"file"`` (Parquet ``_metadata.row_index``, plus per-file offsets when there
    are several files) or ``"partition"`` (position in the partitions of one read).

    Accepts a Spark DataFrame, a Polars or Arrow table (sent to Spark from the driver: small inputs),
    a Parquet or CSV file or directory, a Delta table directory (where Delta is installed) or
    ``table:NAME`` for a table of Spark's catalog.
    """
    from pyspark.sql import DataFrame, functions as F

    from ..io.readers import (all_parts_empty, check_csv_bytes, csv_parts, decompressed, directory_format,
                              file_format, guess_delimiter, in_memory_frame, other_header, parquet_parts,
                              refuse_table_formats)

    mode = "partition"
    if isinstance(source, DataFrame):
        df, name = source, "<spark dataframe>"
    elif isinstance(source, (pl.DataFrame, pl.LazyFrame)) or type(source).__module__.startswith("pyarrow"):
        lf, name = in_memory_frame(source)  # as the local engine reads them: same objects read and refused
        df = spark.createDataFrame(_spark_compatible(lf.collect().to_arrow()))
    elif isinstance(source, str) and source.startswith("table:"):
        name = source
        df = spark.table(source[len("table:"):])
    else:
        text = os.fspath(source)
        name = str(source) if not isinstance(source, str) else source
        local = _is_local_path(text)
        path = Path(text[len("file://"):] if text.startswith("file://") else text)
        if local and not path.exists():
            raise InputError(name, "file not found")
        if local and path.is_file() and path.stat().st_size == 0:
            raise InputError(name, "file is empty: expected a header row (CSV) or a table")
        if local and path.is_dir() and (path / "_delta_log").is_dir():
            fmt = "delta"
        else:
            fmt, compression = file_format(path, mapping)
            fmt = fmt or (directory_format(path, mapping) if local and path.is_dir() else None)
            if compression is not None and fmt is not None and local and path.is_file():
                path = decompressed(path, compression, fmt, name)  # as the local engine reads it
                text = str(path)
        if local and path.is_dir() and fmt != "delta":  # Hudi, Iceberg: read file by file, counted twice
            refuse_table_formats(path)
        if fmt is None:
            raise InputError(name, f"unknown file type {path.suffix!r}: expected .parquet or .csv "
                                   "(or say --input-format)")
        if fmt == "arrow":
            raise InputError(name, "Arrow IPC files are not read by Spark: convert the export to Parquet "
                                   "(e.g. polars.read_ipc(path).write_parquet(...)), or use --engine local")
        if fmt == "parquet":
            if local and path.is_file():
                _check_parquet_footer(path, name, mapping)
            elif local and path.is_dir():  # the local engine's checks of the parts (one schema for all)
                parts = parquet_parts(path, mapping)  # every part has the first one's columns and types
                _check_parquet_footer(parts.files[0], str(parts.files[0]), mapping)
                if parts.untyped:  # Spark's reader fails on the part deep in a task ("corrupt data?")
                    part, column = parts.untyped[0]
                    raise InputError(str(part), f"column {column!r} is of Arrow's null type here (no value in the "
                                                "part), typed in the other parts: Spark cannot read such parts "
                                                "together; write the part with the column typed, or use --engine "
                                                "local", column=column)
            df = spark.read.parquet(text)
            df = df.select("*", F.col("_metadata.row_index").alias(tasks.ROW_INDEX),
                           F.col("_metadata.file_path").alias("__file"))
            files = [r[0] for r in df.select("__file").distinct().collect()] if not (local and path.is_file()) else []
            if len(files) > 1:
                offsets = _file_offsets(spark, df, sorted(files))
                df = df.join(F.broadcast(offsets), "__file")
            df = df.drop("__file")
            mode = "file"
        elif fmt == "csv":
            options = {"header": "true", "escape": '"', "quote": '"', "inferSchema": "false", "mode": "PERMISSIVE",
                       "encoding": "UTF-8"}
            if local and path.is_dir():  # part after part in path order, as the local engine reads and numbers
                # them (one read of the directory numbered rows in Spark's split order: largest file first)
                frames = []
                for part in csv_parts(path, mapping):  # the local engine's checks of each part and their messages
                    frame = spark.read.options(**options, sep=part.sep, multiLine="true" if _has_quote(part.path)
                                               else "false").csv(str(part.path))
                    frames.append(frame.select("*", *[F.lit(value).alias(key) for key, value in part.partitions]))
                df = functools.reduce(lambda a, b: a.union(b), frames)
            else:
                remote_parts = None if local else _remote_parts(spark, text)
                if local and path.is_file():
                    sep = mapping.delimiter or guess_delimiter(path)
                    check_csv_bytes(path, sep, name)  # the local engine's byte checks and messages
                    options["multiLine"] = "true" if _has_quote(path) else "false"
                else:
                    sep = mapping.delimiter or ","
                    options["multiLine"] = "false"
                options["sep"] = sep
                if remote_parts is not None:  # part after part in path order, as a local directory
                    if not remote_parts:
                        raise all_parts_empty(name)
                    frames = []
                    for part in remote_parts:  # basePath: Hive's key=value directories still become columns
                        frame = spark.read.options(**options, basePath=text).csv(part)
                        if frames and frame.columns != frames[0].columns:
                            raise other_header(part, frame.columns, remote_parts[0], frames[0].columns)
                        frames.append(frame)
                    df = functools.reduce(lambda a, b: a.union(b), frames)
                else:
                    df = spark.read.options(**options).csv(text)
        else:  # delta
            df = spark.read.format("delta").load(text)
    return _apply_mapping(df, name, mapping), name, mode


def _spark_compatible(table):
    """An Arrow table Spark's ``createDataFrame`` takes: large and view strings as plain strings."""
    import pyarrow as pa

    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t):
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


def _check_parquet_footer(path: Path, name: str, mapping) -> None:
    """A Parquet file whose footer cannot be read is bad input (exit 2), as with the local engine; so
    is one with a column Spark cannot load at all, used or not (a decimal of more than 38 digits, a
    TIME, a UUID), named, and a contract column (after ``--col``) holding a duration, which Spark reads
    as plain integers (epoch times in 1970) where the local engine refuses it with this message."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
        raise InputError(name, f"cannot be read as parquet: {str(exc).splitlines()[0] if str(exc) else exc}"
                         ) from None
    for field in schema:  # Spark fails the whole read on such a column, read or not
        precision = getattr(field.type, "precision", None)
        if precision is not None and precision > SPARK_DECIMAL_DIGITS:
            raise InputError(name, f"column {field.name!r} holds a decimal of {precision} digits, which Spark cannot "
                                   f"read (at most {SPARK_DECIMAL_DIGITS}), even where the engine would not use it: "
                                   f"{WIDE_DECIMAL_HINT}", column=field.name)
        if pa.types.is_time(field.type) or getattr(field.type, "extension_name", None) == "arrow.uuid":
            raise InputError(name, f"column {field.name!r} holds {field.type}, which Spark cannot read, even where "
                                   f"the engine would not use it: {SPARK_TYPE_HINT}", column=field.name)
    durations = [field for field in schema if pa.types.is_duration(field.type)]
    if durations:  # their names after --col, as the local engine reads them (io.readers.rename_plan)
        from ..io.events import unreadable_type
        from ..io.readers import rename_plan

        renames, clashing = rename_plan(schema.names, mapping, name)
        for field in durations:
            contract = renames.get(field.name, field.name)
            if field.name not in clashing and contract in EVENT_COLUMNS:
                dtype = pl.from_arrow(pa.schema([field]).empty_table()).schema[field.name]  # as Polars reads it
                raise unreadable_type(name, contract, dtype)


SPARK_TYPE_HINT = ("cast it in the export (a UUID to text, a time of day to text or a timestamp), or drop it; "
                   "--engine local reads a UUID user_id as the hex of its bytes and reads past a column it does not use")


UNREADABLE_TYPE_CONDITIONS = ("UNSUPPORTED_TIME_TYPE", "PARQUET_TYPE_ILLEGAL")
"""Spark's planning errors for a Parquet column it cannot load (a TIME, a UUID)."""
SPARK_DECIMAL_DIGITS = MAX_DECIMAL_DIGITS
"""Spark's widest DecimalType, Polars' too (``io.readers.MAX_DECIMAL_DIGITS``): a Parquet file with a
wider decimal column (BigQuery's BIGNUMERIC, DECIMAL(76, 38)) fails to load whole on Spark
(DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION)."""
WIDE_DECIMAL_HINT = ("cast it in the export to a decimal of at most 38 digits, a double or text (BigQuery: "
                     "BIGNUMERIC to NUMERIC or STRING), or drop it; --engine local reads past a column it does not use")


def _has_quote(path: Path) -> bool:
    """Whether the file has a quote at all: only then can a value span lines, and Spark must read the
    file whole (``multiLine``) instead of in splits."""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            if b'"' in chunk:
                return True
    return False


def _file_offsets(spark, df, files: list[str]):
    """Rows before each file when the files are read in path order (a small DataFrame to broadcast)."""
    counts = dict(df.groupBy("__file").count().collect())
    rows, start = [], 0
    for f in files:
        rows.append((f, start))
        start += int(counts.get(f, 0))
    return spark.createDataFrame(rows, f"__file string, {tasks.FILE_OFFSET} long")


def _apply_mapping(df, name: str, mapping):
    """``--col NAME=SOURCE`` renames, as :func:`io.readers.scan_input` applies them."""
    hidden = (tasks.ROW_INDEX, tasks.FILE_OFFSET)
    from ..io.readers import rename_plan

    renames, clashing = rename_plan([c for c in df.columns if c not in hidden], mapping, name)
    if clashing:
        df = df.drop(*clashing)
    if renames:
        df = df.withColumnsRenamed(renames)
    return df


def _arrow_schema_of(df):
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema)


def _chunk_rows(spark) -> int:
    return int(spark.conf.get(CHUNK_ROWS_CONF, str(CHUNK_ROWS)))


# --- the engine ---------------------------------------------------------------------------------------
def load(config, source=None, fx: FxRates | None = None) -> LoadedInput:
    """Read, validate and cut ``source`` (default ``config.events``) on Spark into the run's PathTable:
    the same :class:`LoadedInput` the local engine returns for the same input."""
    source = config.events if source is None else source
    if source is None:
        raise InputError("--events", "no input given: expected an events export or a paths table")
    spark = session(config, source)
    _remember(spark, config)
    shown = source if isinstance(source, str) else getattr(source, "__fspath__", lambda: None)() or "<input>"
    import uuid

    timeout = float(spark.conf.get(START_TIMEOUT_CONF, str(START_TIMEOUT)))
    watchdog = Watchdog(spark.sparkContext, f"shapley_attr-{uuid.uuid4().hex[:12]}", timeout)
    with watchdog.watching(), spark_errors(str(shown), watchdog):
        df, name, mode = read_source(spark, source, config.mapping)
        from .local import guess_kind

        columns = [c for c in df.columns if c not in (tasks.ROW_INDEX, tasks.FILE_OFFSET)]
        kind = config.input_kind or guess_kind(columns)
        if kind == "paths":
            return _from_paths(spark, df, name, mode, config)
        if config.model.model == "time-decay":
            raise UsageError(_NOT_ON_SPARK["time-decay"])
        if config.model.bootstrap:
            raise UsageError(_NOT_ON_SPARK["bootstrap"])
        return _from_events(spark, df, name, mode, config, fx)


def _numbered(spark, df, mode: str):
    """``df`` with ``__row`` for a paths table (collected whole: it is the unique-paths bound)."""
    from pyspark.sql import functions as F

    from ..io.readers import ROW

    if mode == "file":
        offset = F.col(tasks.FILE_OFFSET) if tasks.FILE_OFFSET in df.columns else F.lit(0)
        return df.withColumn(ROW, offset + F.col(tasks.ROW_INDEX) + 1).drop(tasks.ROW_INDEX, tasks.FILE_OFFSET)
    counts = _partition_counts(spark, df)
    starts = _starts(counts)
    out_ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in df.schema.fields) + f", {ROW} long"

    def number(batches):
        import pyarrow as pa

        start = starts.get(tasks._partition_id(), 0)
        for b in batches:
            rows = pa.array(np.arange(start + 1, start + 1 + b.num_rows, dtype=np.int64))
            start += b.num_rows
            yield pa.RecordBatch.from_arrays(b.columns + [rows], names=b.schema.names + [ROW])

    return df.mapInArrow(number, out_ddl)


def _partition_counts(spark, df) -> dict[int, int]:
    def count(batches):
        import pyarrow as pa

        n = sum(b.num_rows for b in batches)
        yield pa.RecordBatch.from_arrays([pa.array([tasks._partition_id()], pa.int32()), pa.array([n], pa.int64())],
                                         names=["pid", "n"])

    first = df.columns[:1]
    return {int(p): int(n) for p, n in df.select(*first).mapInArrow(count, "pid int, n long").collect()}


def _starts(counts: dict[int, int]) -> dict[int, int]:
    starts, total = {}, 0
    for pid in sorted(counts):
        starts[pid] = total
        total += counts[pid]
    return starts


def _from_paths(spark, df, name: str, mode: str, config) -> LoadedInput:
    """A paths table is already aggregated: it is read by Spark, numbered and collected in row order,
    then validated and merged by the local engine's own code (``engines.local._from_paths``)."""
    from ..io.readers import ROW
    from .local import _from_paths as local_paths

    numbered = _numbered(spark, df, mode)
    table = numbered.orderBy(ROW).toArrow()
    _check_utf8(table, name)
    frame = pl.from_arrow(table)
    columns = [ROW] + [c for c in frame.columns if c != ROW]
    return local_paths(frame.select(columns).lazy(), name, config)


def _from_events(spark, df, name: str, mode: str, config, fx: FxRates | None) -> LoadedInput:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from ..io.events import validate_events
    from ..journeys import period_bounds
    from .local import raise_first

    chunk_rows = _chunk_rows(spark)
    arrow_schema = _arrow_schema_of(df)
    data_schema = _without(arrow_schema, (tasks.ROW_INDEX, tasks.FILE_OFFSET))
    # the checks on the columns alone (missing columns, touch and conversion types), on the driver
    validate_events(pl.from_arrow(data_schema.empty_table()).lazy().with_row_index("__row", offset=1), name,
                    config.mapping)

    # the contract columns Spark holds as strings: Spark does not check that a Parquet string's bytes
    # are UTF-8 and Polars reads them unchecked (a label's bytes crashed the dictionary pass, exit 1;
    # a user id's were hashed as they were, exit 0), where the local engine's reader refuses the file
    # (exit 2). Spark flags such rows in the passes' own projections (is_valid_utf8): no pass of its own.
    utf8_columns = tuple(c for c in EVENT_COLUMNS if c in df.columns and _is_string(df.schema[c].dataType))

    # 1. the dictionary pass: channel labels (global, sorted) and rows per input partition
    # (only the label columns are read; the expressions are built on the whole schema); a label that
    # is not UTF-8 is read as null here, where Polars' cast to text failed the job on a binary one: the
    # validation pass refuses the input on a string column, rejects the row of a binary one
    dict_cols = [_utf8_or_null(df, c) for c in ("channel", "partner") if c in df.columns] or [
        F.lit(None).cast("string").alias("_")]
    with _step("dictionary"):
        found = df.select(*dict_cols).mapInArrow(tasks.dictionary_task(data_schema, config.mapping, chunk_rows),
                                                 tasks.DICTIONARY_DDL).collect()
    labels = sorted({r["label"] for r in found if r["label"] is not None})
    counts = {int(r["pid"]): int(r["n"]) for r in found if r["label"] is None}
    categories = tuple(sorted(set(labels) | {DIRECT}))
    period = period_bounds(config.period)

    # 2. validation, FX and the reconciliation records, once (persisted: several small jobs read it)
    fx_rates = [(d, c, r) for (d, c), r in fx.rates.items()] if fx is not None else None
    margin_rates = _margin_rates(config, fx) if _wants_margins(config, data_schema.names) else None
    task = tasks.validate_task(arrow_schema, config.mapping, name, categories, mode, _starts(counts), fx_rates,
                               config.reporting_currency, period, config.countries, margin_rates,
                               chunk_rows, utf8_columns)
    if utf8_columns:  # per row, the first contract string column that is not UTF-8 (null: none)
        df = df.withColumn(tasks.NOT_UTF8, F.coalesce(*[F.when(~F.is_valid_utf8(c), F.lit(i).cast("byte"))
                                                        for i, c in enumerate(utf8_columns)]))
    v = df.mapInArrow(task, tasks.V_DDL).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _finish(spark, v, name, config, fx, categories, period, raise_first, margin_rates is not None)
    finally:
        v.unpersist()


def _wants_margins(config, columns) -> bool:
    """Whether the run carries order margins (as ``engines.local._order_margins`` decides)."""
    return "margin" in columns and config.command != "attribute" and bool(config.period)


def _last_day(config):
    from ..finance.contracts import period_days

    return period_days(config.period)[1]


def _margin_rates(config, fx: FxRates | None) -> dict[str, float]:
    """The period's last-day rate of every currency that has one (executors convert margins with it)."""
    from ..errors import ContractError
    from ..finance.contracts import rate_on

    rates = {} if fx is None else fx.rates
    out = {config.reporting_currency: 1.0}
    for c in sorted({c for _, c in rates}):
        try:
            out[c] = float(rate_on(rates, c, _last_day(config), config.reporting_currency, "fx"))
        except ContractError:
            pass
    return out


def _order_margins(margin_rows, run_currencies, config, fx: FxRates | None, table):
    """``finance.programme.OrderMargins`` from Spark's sums, as ``order_margins`` makes it locally."""
    from ..finance.contracts import rate_on
    from ..finance.programme import OrderMargins

    missing = sum(int(r["n"] or 0) for r in margin_rows)
    by_currency = {r["key"]: Decimal(r["money"]) for r in margin_rows if r["money"] is not None}
    if missing:
        return OrderMargins(None, by_currency, {}, missing)
    fx_rates = {} if fx is None else fx.rates
    source = "fx" if fx is None else fx.source
    rates = {c: rate_on(fx_rates, c, _last_day(config), config.reporting_currency, source) for c in run_currencies}
    gross = sum((by_currency.get(c, Decimal(0)) * r for c, r in rates.items()), Decimal(0))
    return OrderMargins(gross, by_currency, rates, 0, table)


def _finish(spark, v, name, config, fx, categories, period, raise_first, margins: bool) -> LoadedInput:
    from pyspark.sql import functions as F

    kind = F.col("kind")
    # 3. duplicate order ids over the whole input: among the accepted conversions (and the duplicates a
    # chunk already rejected) the lowest row wins; every other row of that id is a reject
    chunk_dups = (v.filter((kind == tasks.KIND_REJECT) & (F.col("column") == "order_id")
                           & F.col("reason").startswith("duplicate order_id"))
                  .select("row", F.col("value").alias("order_id")))
    from pyspark.sql import Window

    ids = v.filter(kind == tasks.KIND_CONVERSION).select("row", "order_id").unionByName(chunk_dups)
    with _step("validate_and_duplicates"):  # the first job over V: it is computed and persisted here
        dups = (ids.withColumn("first", F.min("row").over(Window.partitionBy("order_id")))  # one shuffle
                .filter(F.col("row") != F.col("first")).select("row", "order_id", "first").toArrow())
    dup_rows = spark.createDataFrame(dups.select(["row"]), "row long") if dups.num_rows else None

    def without_dups(frame):
        return frame if dup_rows is None else frame.join(F.broadcast(dup_rows), "row", "left_anti")

    # 4. everything else the driver needs, in one job over V: the rejected rows; rows read and order ids
    # derived; per currency, the rows that are not touches (rejected or not) and the conversions in and
    # outside the run, as exact decimal(38,6) sums; the run's conversions per country; the first
    # conversion of the run without an FX rate
    conversions = without_dups(v.filter(kind == tasks.KIND_CONVERSION))
    run_conv = conversions.filter(F.col("in_run"))
    counted = v.filter(kind == tasks.KIND_COUNTED)
    other = v.filter(kind == tasks.KIND_REJECT)
    if dup_rows is not None:
        other = other.join(F.broadcast(dup_rows), "row", "left_anti")
        flagged = dup_rows.withColumn("_dup", F.lit(True))
        counted = counted.join(F.broadcast(flagged), "row", "left").withColumn(
            "rejected", F.col("rejected") | F.coalesce(F.col("_dup"), F.lit(False)))
    n = F.count(F.lit(1)).alias("n")
    first = F.min(F.struct("row", "currency", "t"))
    not_utf8 = F.min(F.struct("row", "column"))
    facts = _union([
        # the first row of the input whose contract string is not UTF-8 (a chunk's tasks.KIND_NOT_UTF8)
        v.filter(kind == tasks.KIND_NOT_UTF8).agg(F.lit("not_utf8").alias("fact"), n,
                                                  not_utf8["row"].alias("row"), not_utf8["column"].alias("column")),
        other.select(F.lit("reject").alias("fact"), "row", "column", "value", "reason"),
        v.filter(kind == tasks.KIND_CHUNK).agg(F.lit("chunk").alias("fact"), F.sum("row").alias("n"),
                                               F.sum("units").cast("decimal(38,0)").alias("units")),
        counted.groupBy(F.col("currency").alias("key"), F.col("rejected").alias("flag")).agg(
            F.lit("counted").alias("fact"), n, F.sum("money").alias("money")),
        conversions.groupBy(F.col("currency").alias("key"), F.col("in_run").alias("flag")).agg(
            F.lit("conversions").alias("fact"), n, F.sum("money").alias("money")),
        # per country as the local engine sums it (float64; its KPIs are ratios rounded to 6 places)
        run_conv.groupBy(F.col("country").alias("key")).agg(
            F.lit("country").alias("fact"), n, F.sum(F.col("units").cast("decimal(38,0)")).alias("units"),
            F.sum("gmv").alias("g")),
        run_conv.filter(~F.col("fx_ok")).agg(F.lit("no_rate").alias("fact"), n, first["row"].alias("row"),
                                             first["currency"].alias("key"), first["t"].alias("t")),
        # order margins of the run per currency (exact) and how many are missing
        run_conv.groupBy(F.col("currency").alias("key")).agg(
            F.lit("margins").alias("fact"), F.sum(F.col("margin_money").isNull().cast("long")).alias("n"),
            F.sum("margin_money").alias("money")),
    ])
    with _step("facts"):
        facts = pl.from_arrow(facts.toArrow())
    _raise_not_utf8(facts.filter((pl.col("fact") == "not_utf8") & (pl.col("n") > 0)), name)
    checked = facts.filter(pl.col("fact") == "reject")
    rejects = pl.concat([
        checked.select(pl.lit(name).alias("source"), pl.col("row").cast(pl.Int64), "column",
                       pl.col("value").fill_null(""), "reason"),
        pl.from_arrow(dups).select(pl.lit(name).alias("source"), pl.col("row").cast(pl.Int64),
                                   pl.lit("order_id").alias("column"), pl.col("order_id").fill_null("").alias("value"),
                                   pl.format(DUPLICATE_REASON, pl.col("first")).alias("reason")),
    ]).sort("row")
    if len(rejects) and not config.quarantine:
        raise_first(rejects)

    def rows(fact: str) -> list[dict]:
        return facts.filter(pl.col("fact") == fact).sort("key", "flag", nulls_last=True).to_dicts()

    chunk = rows("chunk")[0]
    rows_read, derived = int(chunk["n"] or 0), int(chunk["units"] or 0)
    no_rate = rows("no_rate")
    if no_rate and no_rate[0]["n"]:
        _raise_no_rate(no_rate[0], int(no_rate[0]["n"]), fx)
    by_country = rows("country")
    sums = [r | {"rejected": r["flag"], "g": r["money"], "currency": r["key"]} for r in rows("counted")]
    conv_sums = [r | {"in_run": r["flag"], "g": r["money"], "currency": r["key"]} for r in rows("conversions")]
    currencies = sorted({r["currency"] for r in conv_sums if r["in_run"]})
    if fx is None and len(currencies) > 1:
        raise InputError(name, f"mixed currencies {', '.join(currencies)} in the gmv of the run's conversions: "
                               "give FX rates (--fx, converting to --reporting-currency) or filter the export to "
                               "one currency", column="currency")
    unit = config.reporting_currency if fx is not None else (currencies[0] if currencies else config.mapping.currency)

    # 6. the journey cut per user on the executors, partial path tables summed by path in Spark
    events = without_dups(v.filter(kind == tasks.KIND_EVENT)).select(
        "h", "h2", "row", "t", "conv", "code", "gmv", "scope", "margin")
    parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
    lookback_us = int(round(config.journeys.lookback_days * 86400 * 1_000_000))
    # the time key (a touch before a conversion at the same instant) is computed by the sort, not shuffled
    time_key = F.col("t") * 2 + F.col("conv").cast("long")
    cut = (events.repartition(parts, "h").sortWithinPartitions("h", "h2", time_key, "row")
           .mapInArrow(tasks.cut_task(lookback_us, period, categories.index(DIRECT), _chunk_rows(spark), margins),
                       tasks.PARTIAL_DDL))
    with _step("journeys"):
        merged = (cut.groupBy("kind", "key")
                  .agg(F.sum("a").alias("a"), F.sum(F.col("b").cast("decimal(38,0)")).alias("b"),
                       F.sum("c").alias("c"), F.sum(F.col("d").cast("decimal(38,0)")).alias("d"))
                  .toArrow())
    with _step("driver_table"):
        table, stats, margin_table = _path_table(merged, categories, config.countries)
    order_margins = None
    if margins:
        order_margins = _order_margins(rows("margins"), currencies, config, fx,
                                       margin_table if margins else None)

    check_exact_total([float(r["g"] or 0.0) for r in by_country], name, unit)  # before Spark's sums are read
    run_units = sum(int(r["units"] or 0) for r in by_country)
    if stats["conv_in_period"] != sum(int(r["n"]) for r in by_country):
        raise RuntimeError(f"journey cut counted {stats['conv_in_period']} conversions in the period, "
                           f"validation {sum(int(r['n']) for r in by_country)}")
    direct = stats["direct"]
    from .local import _direct_value

    reconciliation = Reconciliation(
        source=name, rows_read=rows_read, rows_rejected=len(rejects),
        by_currency=_by_currency(sums, conv_sums), currency=unit, gmv_in_run=run_units / VALUE_UNITS,
        gmv_direct=_direct_value(table) if direct else 0.0)
    country_gmv = {r["key"]: float(r["g"]) for r in by_country}
    country_n = {r["key"]: int(r["n"]) for r in by_country}
    return LoadedInput(name, "events", table, rejects, reconciliation, table.stats, derived, country_gmv, country_n,
                       has_timestamps=True, margins=order_margins)


def _union(frames):
    """Small Spark DataFrames with different columns as one (missing columns null): one job collects all."""
    from pyspark.sql import functions as F

    types = {"fact": "string", "key": "string", "flag": "boolean", "n": "long", "money": "decimal(38,6)",
             "units": "decimal(38,0)", "g": "double", "row": "long", "t": "long", "column": "string",
             "value": "string", "reason": "string"}
    out = None
    for frame in frames:
        cols = [(F.col(c) if c in frame.columns else F.lit(None)).cast(t).alias(c) for c, t in types.items()]
        frame = frame.select(*cols)
        out = frame if out is None else out.unionByName(frame)
    return out


def _check_utf8(table, name: str) -> None:
    """A paths table's text that is not UTF-8 refuses the input, as on the local engine: Spark hands a
    Parquet string over unchecked, and Polars took it as it was (a panic further on, exit 1). The
    first bad row of a column is found by bisecting its values' prefixes (each check is Arrow's full
    validation, linear; only on the failing path); a list of labels by its values, then its offsets."""
    import numpy as np
    import pyarrow as pa

    from ..io.readers import ROW

    def first_invalid(values) -> int | None:
        """Index of the first value of a string array that is not UTF-8, None when all are."""
        try:
            values.validate(full=True)
            return None
        except pa.ArrowInvalid:
            pass
        lo, hi = 0, len(values)  # the prefix of length hi fails, of length lo passes
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                values.slice(0, mid).validate(full=True)
                lo = mid
            except pa.ArrowInvalid:
                hi = mid
        return hi - 1

    for field in table.schema:
        t = field.type
        is_list = pa.types.is_list(t) or pa.types.is_large_list(t)
        text = t.value_type if is_list else t
        if field.name == ROW or not (pa.types.is_string(text) or pa.types.is_large_string(text)):
            continue
        column = table.column(field.name).combine_chunks()
        at = first_invalid(column.flatten() if is_list else column)
        if at is None:
            continue
        if is_list:  # the list holding value ``at``
            offsets = column.offsets.to_numpy() - column.offsets[0].as_py()
            at = int(np.searchsorted(offsets, at, side="right")) - 1
        _raise_not_utf8(pl.DataFrame({"column": [field.name], "row": [table.column(ROW)[at].as_py()]}), name)


def _raise_not_utf8(first, name: str) -> None:
    """A contract string that is not UTF-8 refuses the input (exit 2, also with --rejects), as the local
    engine's Parquet reader refuses the file (``io.events.decoding``: no row or column in its message;
    this one adds where the first such string is)."""
    if len(first):
        raise InputError(name, f"{UNREADABLE}: String data contained invalid UTF-8 "
                               f"(first in column {first['column'][0]!r}, row {first['row'][0]}): expected text "
                               "encoded as UTF-8")


def _is_string(data_type) -> bool:
    """Whether Spark holds the column as a string (bytes it does not check are UTF-8)."""
    from pyspark.sql import types as T

    return isinstance(data_type, (T.StringType, T.CharType, T.VarcharType))


def _utf8_or_null(df, name: str):
    """Column ``name`` of ``df`` as text, null where its bytes are not UTF-8, when it is a string or
    binary column (as ``io.events._text_columns`` decodes a binary one); other types as they are."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    data_type = df.schema[name].dataType
    if _is_string(data_type):
        return F.try_validate_utf8(F.col(name)).alias(name)
    if isinstance(data_type, T.BinaryType):
        return F.try_validate_utf8(F.col(name).cast("string")).alias(name)
    return F.col(name)


def _raise_no_rate(row, n: int, fx: FxRates) -> None:
    """The local engine's error for a run conversion without an FX rate (finance.contracts.conversion_rates)."""
    from datetime import datetime, timezone

    from ..errors import ContractError

    day = datetime.fromtimestamp(row["t"] // 1_000_000, tz=timezone.utc).date()
    raise ContractError(fx.source, f"no FX rate for {row['key']} on or before {day}: expected a row "
                                   f"date,currency,rate_to_reporting (needed by events row {row['row']}; "
                                   f"{n} conversion(s) of the run lack a rate)",
                        column="rate_to_reporting", value=f"{day} {row['key']}")


def _by_currency(sums, conv_sums) -> tuple[CurrencyTotals, ...]:
    """:func:`engines.local.by_currency` from Spark's exact ``decimal(38,6)`` sums."""
    def dec(x) -> Decimal:
        return Decimal(0) if x is None else Decimal(x)

    zero = (0, Decimal(0))
    read, rejected, outside, inside = {}, {}, {}, {}
    for r in sums:
        n, g = read.get(r["currency"], zero)
        read[r["currency"]] = (n + int(r["n"]), g + dec(r["g"]))
        if r["rejected"]:
            rejected[r["currency"]] = (int(r["n"]), dec(r["g"]))
    for r in conv_sums:
        (inside if r["in_run"] else outside)[r["currency"]] = (int(r["n"]), dec(r["g"]))
    return currency_totals(read, rejected, outside, inside)


def _path_table(merged, categories: tuple[str, ...], countries) -> tuple[PathTable, dict, PathTable]:
    """The unique paths collected from Spark as a PathTable in canonical order, the cut's counts, and the
    same paths valued at their journeys' margins (the margin table; zeros when margins are not carried)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = merged.column("kind").to_numpy()
    stat_rows = merged.filter(pc.equal(merged.column("kind"), tasks.KIND_STAT))
    stats = {s: 0 for s in tasks.STATS}
    for key, b in zip(stat_rows.column("key").to_pylist(), stat_rows.column("b").to_pylist()):
        stats[key.decode()] = int(b)
    paths = merged.filter(pc.equal(merged.column("kind"), tasks.KIND_PATH))
    del kinds
    keys = paths.column("key").cast(pa.large_binary()).combine_chunks()
    n = len(keys)
    bufs = keys.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int64)[keys.offset: keys.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    codes = np.ascontiguousarray(data[offs[0]:offs[-1]]).view(np.int32).copy() if n else np.zeros(0, np.int32)
    offsets = ((offs - offs[0]) // 4).astype(np.int64) if n else np.zeros(1, np.int64)
    conv = np.asarray(paths.column("a").to_numpy(), dtype=np.float64)
    units = np.array([int(x) for x in paths.column("b").to_pylist()], dtype=np.int64)
    nulls = np.asarray(paths.column("c").to_numpy(), dtype=np.float64)
    margin_units = np.array([int(x) for x in paths.column("d").to_pylist()], dtype=np.int64)
    table = PathTable(offsets, codes, conv, units / VALUE_UNITS, nulls, categories)
    order = canonical_order(PathTable(offsets, codes, conv, np.arange(n, dtype=np.float64), nulls, categories))
    rows = order.value.astype(np.int64)  # the canonical order as row indices (the same for both tables)
    margin_table = drop_unused_channels(take_paths(PathTable(offsets, codes, conv, margin_units / VALUE_UNITS, nulls,
                                                             categories), rows))
    table = drop_unused_channels(take_paths(table, rows))
    journey_stats = {
        "events": stats["events"],
        "users": stats["users"],
        "touches": stats["touches"],
        "conversions": stats["conversions"],
        "conversions_in_period": stats["conv_in_period"],
        "conversions_before_period": stats["conv_before_period"],
        "events_after_period": stats["events_after_period"],
        "journeys": stats["journeys"],
        "converting_journeys": stats["converting_journeys"],
        "non_converting_journeys": stats["non_converting_journeys"],
        "non_converting_tails_outside_period": stats["tails_outside_period"],
        "touches_dropped_lookback": stats["dropped_lookback"] + stats["tail_touches_dropped"],
        "direct_conversions": stats["direct"],
        "unique_paths": table.n_paths,
        "max_path_length": int(table.lengths.max()) if table.n_paths else 0,
        "tails": stats["tails"],
    }
    if countries is not None:
        journey_stats["conversions_outside_countries"] = stats["conv_out_of_scope"]
        journey_stats["touches_closed_outside_countries"] = stats["touches_out_of_scope"]
    table = PathTable(table.offsets, table.codes, table.conversions, table.value, table.nulls, table.channels,
                      None, journey_stats)
    return table, stats, margin_table


def _without(schema, names):
    import pyarrow as pa

    return pa.schema([f for f in schema if f.name not in names])

