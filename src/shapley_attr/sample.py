"""A synthetic but realistic data set: a CDP events export and the finance inputs of a monthly run,
with the programme inputs of PROGRAMME.md (order margins, spend, MAP prices and price observations).

Journeys are drawn with known per-channel incremental effects on the conversion probability
(written to ``truth.json``), so attribution can be checked against a ground truth:
``P(convert) = 1 − (1 − base) · Π_{c ∈ C_j} (1 − lift_c)`` over the journey's distinct channels.
Everything is vectorised NumPy from one ``Generator(PCG64(seed))``: the same seed gives
byte-identical files. Events are written in chunks, so tens of millions of rows fit in memory.
The programme's data (margins, spend, MAP, prices) comes from a second generator seeded with
``(seed, 1)``, so adding it left every other file and column as it was.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

PERIOD = "2026-10"
REPORTING = "EUR"
D2C_CHANNELS = ("paid_search", "organic_search", "email", "social", "display", "affiliate", "direct_nav", "video")
D2C_WEIGHTS = (0.22, 0.18, 0.14, 0.12, 0.10, 0.06, 0.10, 0.08)
D2C_LIFT = (0.030, 0.012, 0.025, 0.008, 0.004, 0.015, 0.020, 0.006)
# country, currency, minor units, weight, GMV scale (in the currency), FX to EUR on the period's last day
COUNTRIES = (
    ("DE", "EUR", 2, 0.34, 85.0, 1.0),
    ("FR", "EUR", 2, 0.22, 80.0, 1.0),
    ("GB", "GBP", 2, 0.18, 70.0, 1.15873),
    ("JP", "JPY", 0, 0.16, 12000.0, 0.00612458),
    ("KW", "KWD", 3, 0.10, 28.0, 2.81937),
)
# partner id, name, country, lift
PARTNERS = (
    ("DE-0042", "MediaMarkt Partner GmbH", "DE", 0.035),
    ("DE-0107", "Otto Marketplace", "DE", 0.020),
    ("FR-0013", "Fnac Darty", "FR", 0.028),
    ("GB-0021", "Argos Retail", "GB", 0.018),
    ("JP-0007", "Rakuten Ichiba", "JP", 0.030),
    ("KW-0003", "Xcite Alghanim", "KW", 0.025),
    ("FR-0099", "=HYPERLINK(\"http://x\")", "FR", 0.010),  # a hostile name: payouts.csv must neutralise it
)
BASE_RATE = 0.02
MARGIN_RATE = {"DE": 0.32, "FR": 0.30, "GB": 0.28, "JP": 0.35, "KW": 0.26}
"""Mean gross margin of an order, as a share of its GMV, per country (each order draws around it)."""
# map_min_compliance per partner (PROGRAMME.md), in PARTNERS' order ("" = no requirement)
MAP_MIN = ("0.90", "", "0.95", "0.90", "0.90", "", "0.80")
# SKU, MAP price in EUR; other countries' MAP prices follow the last-day rate, rounded in their currency
SKUS = (("TV-55-OLED", 1299.0), ("LAPTOP-14", 999.0), ("PHONE-X", 899.0), ("HEADPH-NC", 249.0))
# price observations per partner: (observations, violations); JP-0007 is not observed
OBSERVATIONS = {"DE-0042": (10, 1), "DE-0107": (4, 0), "FR-0013": (8, 2), "GB-0021": (6, 0), "KW-0003": (5, 1),
                "FR-0099": (6, 1)}
# spend per 2000 journeys: channel, currency, amount (organic search costs nothing; tv never shows in journeys)
SPEND = (("paid_search", "EUR", 1500.0), ("paid_search", "GBP", 120.0), ("organic_search", "EUR", 0.0),
         ("email", "EUR", 150.0), ("social", "EUR", 900.0), ("display", "EUR", 700.0), ("affiliate", "EUR", 350.0),
         ("video", "EUR", 1100.0), ("tv", "EUR", 600.0))


def _month(period: str) -> tuple[datetime, datetime]:
    y, m = (int(x) for x in period.split("-"))
    start = datetime(y, m, 1, tzinfo=timezone.utc)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def write_sample(out_dir, journeys: int = 20_000, seed: int = 0, period: str = PERIOD,
                 chunk: int = 500_000) -> dict[str, Path]:
    """Write events.parquet, partners.csv, sales.csv, fx.csv, coop.csv, run.toml and truth.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    programme_rng = np.random.Generator(np.random.PCG64([seed, 1]))
    start, end = _month(period)
    start_us = int(start.timestamp() * 1e6)
    span_us = int((end - start).total_seconds() * 1e6)

    channels = list(D2C_CHANNELS) + [f"partner:{p[0]}" for p in PARTNERS]
    lift = np.array(list(D2C_LIFT) + [p[3] for p in PARTNERS])
    country_codes = [c[0] for c in COUNTRIES]
    country_w = np.array([c[3] for c in COUNTRIES])
    partner_country = np.array([country_codes.index(p[2]) for p in PARTNERS])

    schema = pa.schema([("user_id", pa.string()), ("event_time", pa.timestamp("us", tz="UTC")),
                        ("event_type", pa.string()), ("channel", pa.string()), ("country", pa.string()),
                        ("order_id", pa.string()), ("gmv", pa.string()), ("currency", pa.string()),
                        ("margin", pa.string())])
    events_path = out / "events.parquet"
    tmp = events_path.with_suffix(".parquet.tmp")
    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
    n_events = 0
    order_no = 0
    for c0 in range(0, journeys, chunk):
        n = min(chunk, journeys - c0)
        # Users: ~12% of journeys belong to a returning user (a second journey of an earlier user id).
        uid = np.arange(c0, c0 + n)
        again = rng.random(n) < 0.12
        uid = np.where(again & (uid > 0), rng.integers(0, np.maximum(uid, 1)), uid)
        country = rng.choice(len(COUNTRIES), size=n, p=country_w / country_w.sum())
        length = np.minimum(1 + rng.geometric(0.38, size=n) - 1 + (rng.random(n) < 0.02) * rng.integers(18, 34, n), 60)
        # channel of every touch: D2C by weight, or one of the country's partners (18%), rarely a foreign one
        total = int(length.sum())
        j_of = np.repeat(np.arange(n), length)
        d2c = rng.choice(len(D2C_CHANNELS), size=total, p=np.array(D2C_WEIGHTS) / sum(D2C_WEIGHTS))
        is_partner = rng.random(total) < 0.18
        home = country[j_of]
        cand = rng.integers(0, len(PARTNERS), size=total)
        for _ in range(3):  # re-draw towards the user's country's partners
            redraw = partner_country[cand] != home
            cand[redraw] = rng.integers(0, len(PARTNERS), size=int(redraw.sum()))
        code = np.where(is_partner, len(D2C_CHANNELS) + cand, d2c)
        # conversion: 1 - (1 - base) * prod over distinct channels (1 - lift)
        present = np.zeros((n, len(channels)), dtype=bool)
        present[j_of, code] = True
        p_conv = 1.0 - (1.0 - BASE_RATE) * np.prod(np.where(present, 1.0 - lift, 1.0), axis=1)
        converts = rng.random(n) < p_conv
        # times: the journey ends (conversion or last touch) inside the period; touches spread up to 40 days before
        end_t = start_us + rng.integers(0, span_us, size=n)
        # mean gap ~2.5 days, shorter in long journeys (a burst of touches), so most fit the lookback
        gaps = rng.exponential(1.0, size=total) * np.repeat(np.minimum(2.5, 24.0 / length) * 86400e6, length)
        gaps[rng.random(total) < 0.03] *= 8  # a few touches fall outside the 30-day lookback
        # seconds from each touch to the journey's end: reverse cumulative gaps within the journey
        csum = np.cumsum(gaps)
        last_of = np.cumsum(length) - 1
        cum = np.repeat(csum[last_of], length) - csum + gaps
        touch_t = np.repeat(end_t, length) - cum.astype(np.int64) - 60_000_000
        conv_idx = np.flatnonzero(converts)
        scale = np.array([c[4] for c in COUNTRIES])[country[conv_idx]]
        minor = np.array([c[2] for c in COUNTRIES])[country[conv_idx]]
        amount = np.round(rng.lognormal(np.log(scale), 0.6), 0)
        amount = np.round(amount + rng.integers(0, 100, conv_idx.size) / 100.0 * (minor > 0), 2)
        gmv_text = np.array([f"{a:.{m}f}" for a, m in zip(amount, minor)], dtype=object)
        margin_rate = np.array([MARGIN_RATE[c] for c in country_codes])[country[conv_idx]]
        margin = amount * margin_rate * (1.0 + 0.15 * programme_rng.standard_normal(conv_idx.size))
        margin_text = np.array([f"{round(x, m):.{m}f}" for x, m in zip(margin, minor)], dtype=object)
        orders = np.array([f"O{order_no + i:09d}" for i in range(conv_idx.size)], dtype=object)
        order_no += conv_idx.size
        user_text = np.array([f"u{u:08d}" for u in uid], dtype=object)
        ccy = np.array([c[1] for c in COUNTRIES], dtype=object)
        ctry = np.array(country_codes, dtype=object)
        chan = np.array(channels, dtype=object)
        table = pa.table({
            "user_id": np.concatenate([user_text[j_of], user_text[conv_idx]]),
            "event_time": pa.array(np.concatenate([touch_t, end_t[conv_idx]]), type=pa.timestamp("us", tz="UTC")),
            "event_type": np.array(["touch"] * total + ["conversion"] * conv_idx.size, dtype=object),
            "channel": pa.array(list(chan[code]) + [None] * conv_idx.size, type=pa.string()),
            "country": np.concatenate([ctry[country[j_of]], ctry[country[conv_idx]]]),
            "order_id": pa.array([None] * total + list(orders), type=pa.string()),
            "gmv": pa.array([None] * total + list(gmv_text), type=pa.string()),
            "currency": pa.array([None] * total + list(ccy[country[conv_idx]]), type=pa.string()),
            "margin": pa.array([None] * total + list(margin_text), type=pa.string()),
        }, schema=schema)
        # export order: by time within the chunk, as a CDP dump would be
        table = table.take(np.argsort(table.column("event_time").to_numpy(), kind="stable"))
        writer.write_table(table, row_group_size=1_000_000)
        n_events += table.num_rows
    writer.close()
    tmp.replace(events_path)

    files = {"events": events_path}
    files.update(_write_finance_inputs(out, rng, period))
    files.update(_write_programme_inputs(out, programme_rng, period, journeys))
    truth = {"model": "P(convert) = 1 - (1 - base) * prod_{c in C_j} (1 - lift_c)", "base_rate": BASE_RATE,
             "lift": dict(zip(channels, lift.tolist())), "journeys": journeys, "events": n_events, "seed": seed}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    files["truth"] = out / "truth.json"
    return files


def _write_finance_inputs(out: Path, rng: np.random.Generator, period: str) -> dict[str, Path]:
    start, end = _month(period)
    last_day = (end - timedelta(days=1)).date()
    partner_rows = ["partner_id,partner_name,country,currency,channels,gamma,beta,rho,sales_target,min_profit,"
                    "coop_eligible,rounding,valid_from,valid_to,map_min_compliance"]
    sales_rows = ["partner_id,period,sales,gross_margin"]
    ccy_of = {c[0]: (c[1], c[2], c[4]) for c in COUNTRIES}
    for i, (pid, name, ctry, _) in enumerate(PARTNERS):
        ccy, minor, scale = ccy_of[ctry]
        gamma = ("0.08", "0.05", "0.10", "0.06", "0.07", "0.09", "0.04")[i]
        beta = ("0.03", "0.02", "0.025", "0.02", "0.03", "0.015", "0.01")[i]
        rho = ("0.02", "0.01", "0.015", "0.02", "0.01", "0.02", "0.005")[i]
        target = scale * 2000
        sales = target * (0.8 + 0.5 * rng.random())
        margin = sales * 0.18
        min_profit = margin * (1.05 if i == 3 else 0.6)  # one partner falls below the participation floor
        if i == 1:  # another sits just above it: a slightly higher γ would keep it in (scenarios' gamma_min)
            min_profit = margin + 40.0
        fmt = f"{{:.{minor}f}}"
        rounding = "half-up" if i % 3 == 1 else "half-even"
        quoted = '"' + name.replace('"', '""') + '"' if any(ch in name for ch in ',"') else name
        partner_rows.append(",".join([pid, quoted, ctry, ccy, f"partner:{pid}", gamma, beta, rho, fmt.format(target),
                                      fmt.format(min_profit), "true" if i != 1 else "false", rounding,
                                      "2026-01-01", "2026-12-31", MAP_MIN[i]]))
        sales_rows.append(",".join([pid, period, fmt.format(sales), fmt.format(margin)]))
    fx_rows = ["date,currency,rate_to_reporting"]
    day = start.date() - timedelta(days=45)
    while day <= last_day:
        for ctry, ccy, _, _, _, rate in COUNTRIES:
            if ccy == REPORTING or ctry == "FR":
                continue
            drift = 1.0 + 0.01 * np.sin((day - start.date()).days / 5.0)
            r = rate if day == last_day else rate * drift
            fx_rows.append(f"{day.isoformat()},{ccy},{float(f'{r:.6g}')!r}")
        day += timedelta(days=1)
    # co-op basis (PROGRAMME.md): the FR and * budgets weigh sell-through beside attributed GMV (a
    # map_compliance term would tie coop.csv to the MAP inputs: a run without them refuses it)
    coop_rows = ["period,scope,currency,budget,basis", f"{period},DE,EUR,5000.00,",
                 f"{period},FR,EUR,2500.00,attributed_gmv:0.6;sell_through:0.4", f"{period},JP,JPY,300000,",
                 f"{period},KW,KWD,750.500,", f"{period},*,EUR,1000.00,attributed_gmv:0.7;sell_through:0.3",
                 f"{period},IT,EUR,400.00,"]
    run_toml = "\n".join([
        "# Monthly run on the sample data: shapley-attr run --config run.toml",
        'events = "events.parquet"', 'partners = "partners.csv"', 'sales = "sales.csv"', 'fx = "fx.csv"',
        'coop = "coop.csv"', f'period = "{period}"', f'reporting_currency = "{REPORTING}"', 'out = "runs/' + period + '"',
        'model = "hybrid"', 'game = "rate"', "alpha = 0.5", "seed = 0", "lookback_days = 30",
        "# programme (PROGRAMME.md): spend for ROAS/CPA, MAP prices and observed prices, withheld privileges",
        'spend = "spend.csv"', 'map = "map.csv"', 'prices = "prices.csv"', 'map_policy = "withhold"', ""])
    files = {}
    for name, rows in (("partners", partner_rows), ("sales", sales_rows), ("fx", fx_rows), ("coop", coop_rows)):
        path = out / f"{name}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files[name] = path
    (out / "run.toml").write_text(run_toml, encoding="utf-8")
    files["run_config"] = out / "run.toml"
    return files


def _write_programme_inputs(out: Path, rng: np.random.Generator, period: str, journeys: int) -> dict[str, Path]:
    """spend.csv, map.csv and prices.csv: spend scaled to the number of journeys; MAP prices for four
    SKUs in each country's currency; price observations of the period with the violations of
    ``OBSERVATIONS`` (one GB observation listed in EUR, compared with the GBP MAP at that day's rate)."""
    start, end = _month(period)
    days = (end - start).days
    scale = journeys / 2000
    spend_rows = ["period,channel,currency,spend"] + [f"{period},{ch},{ccy},{amount * scale:.2f}"
                                                       for ch, ccy, amount in SPEND]
    country = {c[0]: c for c in COUNTRIES}
    map_rows = ["sku,country,currency,map_price,valid_from,valid_to"]
    map_price: dict[tuple[str, str], float] = {}
    for ctry, ccy, minor, _, _, rate in COUNTRIES:
        for sku, eur in SKUS:
            local = round(eur / rate, minor)
            map_price[(sku, ctry)] = local
            map_rows.append(f"{sku},{ctry},{ccy},{local:.{minor}f},2026-01-01,2026-12-31")
    map_rows.append(f"TV-55-OLED,DE,EUR,1399.00,2025-01-01,2025-12-31")  # last year's MAP: not in force
    price_rows = ["date,partner_id,sku,price,currency"]
    for pid, name, ctry, _ in PARTNERS:
        if pid not in OBSERVATIONS:
            continue
        n, bad = OBSERVATIONS[pid]
        _, ccy, minor, _, _, rate = country[ctry]
        for k in range(n):
            sku = SKUS[int(rng.integers(0, len(SKUS)))][0]
            day = (start + timedelta(days=int(rng.integers(0, days)))).date()
            factor = 0.88 + 0.05 * rng.random() if k < bad else 1.0 + 0.08 * rng.random()
            price = map_price[(sku, ctry)] * factor
            if pid == "GB-0021" and k == n - 1:  # listed in EUR: compared with the GBP MAP at the day's rate
                price_rows.append(f"{day},{pid},{sku},{price * rate * 1.02:.2f},EUR")
            else:
                price_rows.append(f"{day},{pid},{sku},{price:.{minor}f},{ccy}")
    files = {}
    for name, rows in (("spend", spend_rows), ("map", map_rows), ("prices", price_rows)):
        path = out / f"{name}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files[name] = path
    return files
