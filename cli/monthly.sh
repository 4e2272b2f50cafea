#!/usr/bin/env bash
# The monthly batch as an operator runs it (cron, Airflow BashOperator, a CI schedule):
#
#   cli/monthly.sh CONFIG [PERIOD]
#
# CONFIG   a run.toml (see cli/configs/ for common CDP exports); its paths are relative to it.
# PERIOD   YYYY-MM; default: the previous calendar month in UTC.
#
# Runs `validate` first (every input checked, nothing written; a bad contract/FX/co-op file stops
# here with exit 2), then `run` into OUT_ROOT/PERIOD (default: runs/ beside the config). An existing
# run directory is kept unless FORCE=1 (which replaces only an earlier run of this engine). Both
# commands' stderr goes to OUT_ROOT/PERIOD.log as well as to the terminal. The exit code is the
# engine's: 0 done, 2 bad input or refused output, 1 a failure inside the engine.
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 CONFIG [PERIOD]" >&2
    exit 2
fi
config=$1
period=${2:-$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)}
if ! [[ $period =~ ^[0-9]{4}-(0[1-9]|1[0-2])$ ]]; then
    echo "error: PERIOD must be YYYY-MM, got '$period'" >&2
    exit 2
fi
if [ ! -f "$config" ]; then
    echo "error: $config: config file not found" >&2
    exit 2
fi
out_root=${OUT_ROOT:-$(dirname "$config")/runs}
mkdir -p "$out_root"
out="$out_root/$period"
log="$out_root/$period.log"
engine=${SHAPLEY_ATTR:-shapley-attr}
force=()
[ "${FORCE:-0}" = "1" ] && force=(--force)

{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) validate $config period=$period"
    $engine validate --config "$config" --period "$period"
} 2>&1 | tee "$log" >&2
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "validate failed (exit $status); nothing was written. Log: $log" >&2
    exit "$status"
fi
{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) run $config period=$period out=$out"
    $engine run --config "$config" --period "$period" --out "$out" "${force[@]}"
} 2>&1 | tee -a "$log" >&2
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then
    echo "done: payouts $out/payouts.csv, report $out/report.html, log $log" >&2
else
    echo "run failed (exit $status). Log: $log" >&2
fi
exit "$status"
