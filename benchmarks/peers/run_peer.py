"""Run one peer library on one model, inside the peers' virtualenv; print JSON on the last line.

    .peers-venv/bin/python run_peer.py PEER MODEL paths.csv

PEER: channelattribution | dp6 | mta. MODEL: last | linear | markov | shapley.
``paths.csv`` is ChannelAttribution's own format (``path;total_conversions;total_conversion_value;
total_null``, channels joined by `` > ``); each peer gets it in the form its documentation asks for,
converted before the clock starts. Output: ``{"fit_s": seconds of the model call, "credits":
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


def channelattribution(data: pd.DataFrame, model: str):
    import ChannelAttribution as ca

    data = data.assign(path=data["path"].str.replace(" > ", ">", regex=False))
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


def dp6(data: pd.DataFrame, model: str):
    import polars as pl
    from mam import MAM

    total = float(data["total_conversions"].sum())
    conv = data[data["total_conversions"] > 0].assign(has_conv=True, occurrences=lambda d: d["total_conversions"])
    null = data[data["total_null"] > 0].assign(has_conv=False, occurrences=lambda d: d["total_null"])
    rows = pd.concat([conv, null])[["path", "has_conv", "occurrences"]]
    rows["occurrences"] = rows["occurrences"].astype("int64")
    frame = pl.from_pandas(rows.reset_index(drop=True))
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


def mta(data: pd.DataFrame, model: str):
    from mta import MTA, MTAConfig

    total = float(data["total_conversions"].sum())
    frame = data[["path", "total_conversions", "total_null"]]
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
    data = pd.read_csv(path, sep=";", dtype={"path": str})
    for col in ("total_conversions", "total_conversion_value", "total_null"):
        data[col] = data[col].astype(float)
    runner = {"channelattribution": channelattribution, "dp6": dp6, "mta": mta}[peer]
    try:
        with redirect_stdout(io.StringIO()):
            fit, credits, variant = runner(data, model)
    except NotImplementedError as exc:
        print(json.dumps({"unsupported": str(exc)}))
        return
    print(json.dumps({"fit_s": fit, "credits": credits, "variant": variant}))


if __name__ == "__main__":
    main()
