"""Benchmarks that print Markdown tables and write JSON (and PNG plots when matplotlib is present).

    python benchmarks/run.py --quick          # < 2 minutes: small sizes, smoke check
    python benchmarks/run.py                  # 1M and 10M events end to end, kernels, MC, peers
    python benchmarks/run.py --full           # adds 50M events (needs ~10 minutes to generate)

Results go to benchmarks/results/ (git-ignored). Peers run from their own virtualenv
(benchmarks/peers/setup.sh); a peer that is not installed is reported as skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / "results"
PEERS_PY = HERE / ".peers-venv" / "bin" / "python"


def measure(cmd: list[str], env=None, timeout: float = 600.0) -> dict:
    """Wall seconds and peak RSS (MiB) of one child process, from wait4's rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return {"wall_s": None, "rss_mib": None, "status": "timeout"}
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return {"wall_s": wall, "rss_mib": usage.ru_maxrss / 1024.0, "status": "ok" if status == 0 else f"exit {status >> 8}",
            "stderr": err[-2000:]}


def events_files(sizes_events: list[int], workdir: Path) -> dict[int, Path]:
    """Sample exports of about the given numbers of events (~3 events per journey)."""
    from shapley_attr.sample import write_sample

    out = {}
    for n_events in sizes_events:
        d = workdir / f"events_{n_events}"
        if not (d / "events.parquet").exists():
            write_sample(d, journeys=max(1000, n_events // 3), seed=0)
        out[n_events] = d
    return out


def floor_seconds(parquet: Path) -> float:
    """This machine's floor: Polars scan of the file + the stable hash sort that orders journeys."""
    import polars as pl

    t0 = time.perf_counter()
    # the sorted keys are materialised, so the optimiser cannot drop the sort
    (pl.scan_parquet(parquet).select(pl.col("user_id").hash().alias("h"), pl.col("event_time"))
     .sort("h", maintain_order=True).collect())
    return time.perf_counter() - t0


def scale_table(sizes: list[int], workdir: Path) -> list[dict]:
    rows = []
    exe = [sys.executable, "-m", "shapley_attr"]
    for n, d in events_files(sizes, workdir).items():
        events = d / "events.parquet"
        rows_n = __import__("pyarrow.parquet", fromlist=["x"]).ParquetFile(events).metadata.num_rows
        cmd = exe + ["attribute", str(events), "--fx", str(d / "fx.csv"), "--model", "shapley", "--game", "rate",
                     "--out", str(workdir / f"credits_{n}.csv")]
        measure(cmd)  # warm the Numba cache and the page cache
        m = measure(cmd)
        fl = floor_seconds(events)
        times = {}
        for line in m.get("stderr", "").splitlines():
            if line.startswith("time:"):
                times = {k.strip().split(" ")[0]: v for k, v in
                         (p.strip().rsplit(" ", 1) for p in line[5:].split(","))}
        rows.append({"events": rows_n, "wall_s": m["wall_s"], "rss_mib": m["rss_mib"],
                     "events_per_s": rows_n / m["wall_s"] if m["wall_s"] else None, "floor_s": fl,
                     "ratio_to_floor": m["wall_s"] / fl if m["wall_s"] else None, "status": m["status"],
                     "read_journeys_s": times.get("read+journeys"), "model_s": times.get("model")})
    return rows


def startup_table(sample_dir: Path) -> dict:
    exe = [sys.executable, "-m", "shapley_attr"]
    help_runs = [measure(exe + ["--help"])["wall_s"] for _ in range(3)]
    attr = exe + ["attribute", str(sample_dir / "events.parquet"), "--fx", str(sample_dir / "fx.csv"), "--quiet",
                  "--format", "csv"]
    measure(attr)
    second = [measure(attr)["wall_s"] for _ in range(3)]
    return {"help_s": min(help_runs), "second_attribute_s": min(second)}


def kernel_table(quick: bool) -> list[dict]:
    from benchmarks._data import journeys_table
    from shapley_attr.config import ModelParams
    from shapley_attr.models import fit

    n_j = 100_000 if quick else 1_000_000
    cases = [("last", {}, 10), ("linear", {}, 10), ("markov", {"order": 1}, 10)]
    cases += [("shapley", {"game": "rate"}, n) for n in ((10, 20, 100) if quick else (10, 20, 100, 1000))]
    cases += [("shapley", {"game": "count"}, 100), ("shapley", {"game": "subset-rate", "method": "exact"}, 16 if quick else 20)]
    rows = []
    for model, opts, n in cases:
        table = journeys_table(n_j, n, seed=n)
        params = ModelParams(model=model, **opts)
        t0 = time.perf_counter()
        fit(table, params)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = fit(table, params)
            warm.append(time.perf_counter() - t0)
        ok = bool(np.allclose(res.credit.sum(axis=0), [table.conversions.sum(), table.value.sum()], rtol=1e-9))
        rows.append({"model": model + (f" {opts.get('game', '')}" if opts.get("game") else "") +
                     (f" order {opts['order']}" if "order" in opts else ""), "journeys": n_j, "channels": n,
                     "unique_paths": table.n_paths, "first_call_s": first, "warm_s": min(warm), "sums_to_total": ok})
    return rows


MC_CODE = """
import sys, time, json
sys.path.insert(0, {root!r})
from benchmarks._data import journeys_table
from shapley_attr.config import ModelParams
from shapley_attr.models import fit
t = journeys_table({n_j}, {n}, seed={n})
p = ModelParams(game="subset-rate", method="mc", tolerance=1e-12, max_samples=256)
fit(t, p)
t0 = time.perf_counter()
r = fit(t, ModelParams(game="subset-rate", method="mc", tolerance={tol}, max_samples=400000))
dt = time.perf_counter() - t0
top = r.credit[:, 1].argsort()[::-1][:10]
rel = float((r.std_error[top] / r.credit[top, 1]).max())
print(json.dumps({{"seconds": dt, "samples": r.info["samples"], "stop": r.info["stop_reason"],
                  "top10_max_rel_se": rel, "unique_paths": t.n_paths, "sets": r.info["distinct_sets"]}}))
"""


def mc_table(quick: bool) -> list[dict]:
    rows = []
    n_j = 100_000 if quick else 1_000_000
    for n in (20, 50):
        for threads in ("1", "2"):
            code = MC_CODE.format(root=str(HERE.parent), n_j=n_j, n=n, tol=0.02 if quick else 0.004)
            env = dict(os.environ, NUMBA_NUM_THREADS=threads)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
            if out.returncode != 0:
                rows.append({"channels": n, "threads": threads, "error": out.stderr[-500:]})
                continue
            rows.append({"channels": n, "threads": int(threads), **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def peers_table(quick: bool, workdir: Path) -> list[dict]:
    """Run each peer in its own virtualenv on the same paths data; report fit time and agreement."""
    if not PEERS_PY.exists():
        return [{"peer": "all", "status": "skipped: run benchmarks/peers/setup.sh to create benchmarks/.peers-venv"}]
    from benchmarks._data import journeys_table
    from shapley_attr.config import ModelParams
    from shapley_attr.models import fit

    rows = []
    for n_j in ((10_000,) if quick else (10_000, 100_000, 1_000_000)):
        for n in (10, 20) if quick else (10, 20, 50):
            table = journeys_table(n_j, n, seed=n)
            paths_csv = workdir / f"paths_{n_j}_{n}.csv"
            with open(paths_csv, "w") as fh:
                fh.write("path;total_conversions;total_conversion_value;total_null\n")
                for lab, k, g, z in zip(table.path_labels(), table.conversions, table.value, table.nulls):
                    fh.write(f"{lab};{k:g};{float(g)!r};{z:g}\n")
            ours = {}
            for name, params in (("markov", ModelParams(model="markov")), ("last", ModelParams(model="last")),
                                 ("linear", ModelParams(model="linear"))):
                t0 = time.perf_counter()
                res = fit(table, params)
                ours[name] = (time.perf_counter() - t0, dict(zip(res.channels, res.credit[:, 0])))
            for peer, script in (("ChannelAttribution", HERE / "peers" / "run_channelattribution.py"),):
                t0 = time.perf_counter()
                out = subprocess.run([str(PEERS_PY), str(script), str(paths_csv)], capture_output=True, text=True,
                                     timeout=300)
                wall = time.perf_counter() - t0
                if out.returncode != 0:
                    rows.append({"peer": peer, "journeys": n_j, "channels": n, "status": out.stderr[-300:]})
                    continue
                theirs = json.loads(out.stdout.strip().splitlines()[-1])
                for model, credits in theirs["credits"].items():
                    mine = ours[model][1]
                    err = max(abs(credits.get(c, 0.0) - mine.get(c, 0.0)) for c in mine) / max(table.conversions.sum(), 1)
                    rows.append({"peer": peer, "model": model, "journeys": n_j, "channels": n,
                                 "peer_fit_s": theirs["fit_s"][model], "peer_wall_s": wall, "ours_fit_s": ours[model][0],
                                 "sums_to_total": abs(sum(credits.values()) - table.conversions.sum()) < 1e-6 * table.conversions.sum(),
                                 "max_abs_err_vs_ours_rel_total": err, "status": "ok"})
    return rows


def markdown(rows: list[dict], cols: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes; under two minutes")
    ap.add_argument("--full", action="store_true", help="also 50M events")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/shapley_attr_bench"))
    ap.add_argument("--skip", nargs="*", default=[], choices=["scale", "startup", "kernels", "mc", "peers"])
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d")}
    print(f"# shapley_attr benchmarks — {report['date']}, {os.cpu_count()} cores, {platform.platform()}\n")
    if "startup" not in args.skip:
        sample = HERE.parent / "data" / "samples"
        report["startup"] = startup_table(sample)
        print("## Start-up\n\n" + markdown([report["startup"]], ["help_s", "second_attribute_s"]) + "\n")
    if "kernels" not in args.skip:
        report["kernels"] = kernel_table(args.quick)
        print("## Models (fit on a PathTable)\n\n" + markdown(report["kernels"], ["model", "journeys", "channels",
              "unique_paths", "first_call_s", "warm_s", "sums_to_total"]) + "\n")
    if "mc" not in args.skip:
        report["mc"] = mc_table(args.quick)
        print("## Monte Carlo subset-rate (antithetic pairs)\n\n" + markdown(report["mc"], ["channels", "threads",
              "unique_paths", "sets", "samples", "stop", "top10_max_rel_se", "seconds"]) + "\n")
    if "scale" not in args.skip:
        sizes = [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000] + ([50_000_000] if args.full else [])
        report["scale"] = scale_table(sizes, args.workdir)
        print("## End to end: `shapley-attr attribute` (Parquet, Shapley rate game)\n\n" + markdown(report["scale"], [
            "events", "wall_s", "rss_mib", "events_per_s", "read_journeys_s", "model_s", "floor_s", "ratio_to_floor",
            "status"]) + "\n")
    if "peers" not in args.skip:
        report["peers"] = peers_table(args.quick, args.workdir)
        print("## Peers (same paths data)\n\n" + markdown(report["peers"], ["peer", "model", "journeys", "channels",
              "peer_fit_s", "peer_wall_s", "ours_fit_s", "sums_to_total", "max_abs_err_vs_ours_rel_total", "status"]) + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if report.get("scale"):
            xs = [r["events"] for r in report["scale"] if r["wall_s"]]
            ys = [r["wall_s"] for r in report["scale"] if r["wall_s"]]
            fl = [r["floor_s"] for r in report["scale"] if r["wall_s"]]
            plt.loglog(xs, ys, "o-", label="shapley-attr attribute")
            plt.loglog(xs, fl, "s--", label="floor: scan + sort")
            plt.xlabel("events")
            plt.ylabel("seconds")
            plt.legend()
            plt.savefig(RESULTS / "scale.png", dpi=100)
    except ImportError:
        print("(matplotlib not installed: no plots)")
    print(f"results: {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
