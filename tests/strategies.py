"""Hypothesis strategies for small random path tables."""
from __future__ import annotations

from hypothesis import strategies as st

CHANNELS = ["a", "b", "c", "d", "e", "f"]


@st.composite
def path_tables(draw, max_channels: int = 6, max_paths: int = 10, max_len: int = 5):
    chans = CHANNELS[: draw(st.integers(2, max_channels))]
    n = draw(st.integers(1, max_paths))
    paths = [draw(st.lists(st.sampled_from(chans), min_size=1, max_size=max_len)) for _ in range(n)]
    conv = [float(draw(st.integers(0, 4))) for _ in range(n)]
    nulls = [float(draw(st.integers(0, 5))) for _ in range(n)]
    value = [c * draw(st.floats(1.0, 200.0, allow_nan=False)) for c in conv]
    if sum(conv) == 0:
        conv[0], value[0] = 1.0, 10.0
    return paths, conv, value, nulls
