"""Readers and writers: input scans and validation, the run configuration file, output tables, the
finance CSV dialect, atomic writes and the one writer of a run directory."""
