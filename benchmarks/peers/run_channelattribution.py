"""Run ChannelAttribution (in the peers' virtualenv) on a paths CSV; print fit seconds and credits as JSON.

Usage: .peers-venv/bin/python run_channelattribution.py paths.csv
ChannelAttribution's markov_model estimates removal effects by simulation (nsim_start); ours solves
the chain exactly, so small differences are expected and reported.
"""
import io
import json
import sys
import time
from contextlib import redirect_stdout

import pandas as pd

import ChannelAttribution as ca

data = pd.read_csv(sys.argv[1], sep=";")
data["path"] = data["path"].astype(str).str.replace(" > ", ">", regex=False)
for col in ("total_conversions", "total_conversion_value", "total_null"):
    data[col] = data[col].astype(float)
out = {"credits": {}, "fit_s": {}}
with redirect_stdout(io.StringIO()):
    t0 = time.perf_counter()
    heur = ca.heuristic_models(data, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False)
    t_heur = time.perf_counter() - t0
    t0 = time.perf_counter()
    mk = ca.markov_model(data, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
                         order=1, verbose=False, flg_pro=False)
    t_mk = time.perf_counter() - t0
if isinstance(mk, dict):
    mk = mk.get("result", next(iter(mk.values())))
for name, col in (("last", "last_touch_conversions"), ("linear", "linear_touch_conversions")):
    out["credits"][name] = {str(c): float(v) for c, v in zip(heur["channel_name"], heur[col])}
    out["fit_s"][name] = t_heur
out["credits"]["markov"] = {str(c): float(v) for c, v in zip(mk["channel_name"], mk["total_conversions"])}
out["fit_s"]["markov"] = t_mk
print(json.dumps(out))
