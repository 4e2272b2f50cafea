#!/usr/bin/env bash
# The peers live in their own virtualenv, never in the package's dependencies.
set -u
cd "$(dirname "$0")/.."
python3 -m venv .peers-venv
. .peers-venv/bin/activate
python -m pip install --quiet --upgrade pip
for peer in channelattribution marketing-attribution-models mta matplotlib; do
  if python -m pip install --quiet "$peer"; then echo "installed $peer"; else echo "SKIPPED $peer: pip install failed"; fi
done
