"""The run manifest: what went in (hashes), what was decided, what came out, and how it reconciles."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

BLOCK = 1 << 20


def file_digest(path: Path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK):
            h.update(chunk)
    return {"path": str(path), "size": path.stat().st_size, "sha256": h.hexdigest()}


def run_id(inputs: dict[str, dict], parameters: dict) -> str:
    """A hash of the inputs' contents and the parameters: the same run gets the same id."""
    payload = json.dumps({"inputs": {k: v["sha256"] for k, v in sorted(inputs.items())}, "parameters": parameters},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def to_json(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n").encode("utf-8")
