#!/usr/bin/env bash
# Set up promptsearch in ./.venv from nothing; safe to run again (it only adds what is missing).
# Where no NVIDIA GPU is present, torch's CPU build is installed first, so that pip does not
# pull a multi-GB CUDA build to satisfy the plain "torch" requirement.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$VPY" -m pip install -q torch
  else
    # The CPU wheel: from the machine's local wheel folder where there is one, else PyTorch's CPU index.
    "$VPY" -m pip install -q torch==2.13.0 \
      || "$VPY" -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
if ! "$VPY" -c "import promptsearch, pytest, peft" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.promptsearch-installed ]; then
  "$VPY" -m pip install -q -e ".[dev]"
  touch .venv/.promptsearch-installed
fi
echo "promptsearch is set up in $(pwd)/.venv" >&2
