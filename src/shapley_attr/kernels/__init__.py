"""Numba kernels: arrays and scalars in, arrays out. No Polars, no Decimal, no Python objects.

Import a kernel module only where it runs: importing numba costs about a second.
"""
