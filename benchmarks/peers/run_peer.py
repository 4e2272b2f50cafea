"""Run one peer library on one model, inside the peers' virtualenv; print JSON on the last line.

    .peers-venv/bin/python run_peer.py PEER MODEL FILE

PEER: channelattribution | dp6 | mta. MODEL: last | linear | markov | shapley. FILE is the journeys
in the peer's own input format, written once by ``benchmarks/run.py``:
- channelattribution: ``path;total_conversions;total_conversion_value;total_null`` (channels
  joined by ``>``, its documented separator);
- dp6: ``path,has_conv,occurrences`` — its "grouped_journey" format, one row per path and outcome;
- mta: ``path,total_conversions,total_null`` (channels joined by `` > ``).
Output: ``{"fit_s": seconds of the model call, "credits":
{channel: conversions credited}, "variant": what was run}``. Credits are in conversions: peers that
return shares or unnormalised scores are scaled to the total conversions.
"""
import io
import json
import sys
import time
from contextlib import redirect_stdout

import pandas as pd


def scaled(scores: dict, total: float) -> dict:
    s = sum(scores.values())
    return {str(k): float(v) * total / s for k, v in scores.items()} if s else {str(k): 0.0 for k in scores}


def channelattribution(path: str, model: str):
    import ChannelAttribution as ca

    data = pd.read_csv(path, sep=";", dtype={"path": str})
    if model in ("last", "linear"):
        t0 = time.perf_counter()
        res = ca.heuristic_models(data, "path", "total_conversions", flg_pro=False)
        fit = time.perf_counter() - t0
        col = {"last": "last_touch", "linear": "linear_touch"}[model]
        return fit, {str(c): float(v) for c, v in zip(res["channel_name"], res[col])}, "heuristic_models"
    if model == "markov":
        t0 = time.perf_counter()
        res = ca.markov_model(data, "path", "total_conversions", var_null="total_null", order=1, verbose=False,
                              flg_pro=False)
        fit = time.perf_counter() - t0
        if isinstance(res, dict):
            res = res.get("result", next(iter(res.values())))
        return fit, {str(c): float(v) for c, v in zip(res["channel_name"], res["total_conversions"])}, \
            "markov_model(order=1), simulated removal effects"
    raise NotImplementedError("ChannelAttribution's Shapley is in its paid 'pro' edition only")


def dp6(path: str, model: str):
    import polars as pl
    from mam import MAM

    frame = pl.read_csv(path, schema_overrides={"path": pl.Utf8, "has_conv": pl.Boolean, "occurrences": pl.Int64})
    total = float(frame.filter(pl.col("has_conv"))["occurrences"].sum())
    t0 = time.perf_counter()
    mam = MAM(frame, format_type="grouped_journey", channels_colname="path", journey_with_conv_colname="has_conv",
              occurrences_colname="occurrences", path_separator=" > ")
    if model == "last":
        res, variant = mam.run_last_click(), "run_last_click"
    elif model == "linear":
        res, variant = mam.run_linear(), "run_linear"
    elif model == "markov":
        res = mam.run_markov()
        fit = time.perf_counter() - t0
        re = res.metadata["removal_effect"]["removal_effect"]
        return fit, scaled(dict(zip(re.index, re.values)), total), \
            "run_markov(): removal effects (its per-journey reallocation of them is not compared)"
    else:
        res, variant = mam.run_shapley(max_size=4, value_column="conv_rate"), "run_shapley(max_size=4, conv_rate)"
    fit = time.perf_counter() - t0
    agg = res.to_polars()
    return fit, {str(c): float(v) for c, v in zip(agg["channels"].cast(pl.Utf8), agg["attribution"])}, variant


def mta(path: str, model: str):
    from mta import MTA, MTAConfig

    frame = pd.read_csv(path, dtype={"path": str})
    total = float(frame["total_conversions"].sum())
    # last/linear on the journeys as they are; markov and shapley with repeats removed (its default)
    loops = model in ("last", "linear")
    t0 = time.perf_counter()
    m = MTA(data=frame, config=MTAConfig(allow_loops=loops, add_timepoints=False, sep=" > ",
                                         normalize_by_default=False))
    if model == "last":
        m.last_touch()
        key, variant = "last_touch", "last_touch()"
    elif model == "linear":
        m.linear(share="proportional")
        key, variant = "linear", "linear(share='proportional')"
    elif model == "markov":
        m.markov(sim=False)
        key, variant = "markov", "markov(sim=False): path-probability removal effects"
    else:
        m.shapley(max_coalition_size=None)
        key, variant = "shapley", "shapley(max_coalition_size=None): the count game"
    fit = time.perf_counter() - t0
    return fit, scaled(dict(m.attribution[key]), total), variant


def main() -> None:
    peer, model, path = sys.argv[1:4]
    runner = {"channelattribution": channelattribution, "dp6": dp6, "mta": mta}[peer]
    try:
        with redirect_stdout(io.StringIO()):
            fit, credits, variant = runner(path, model)
    except NotImplementedError as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    except ImportError as exc:  # setup.sh could not install this peer
        print(json.dumps({"skipped": f"{peer} is not installed in the peers' virtualenv ({exc})"}))
        return
    print(json.dumps({"fit_s": fit, "credits": credits, "variant": variant}))


if __name__ == "__main__":
    main()
