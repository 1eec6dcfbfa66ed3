"""The top-level namespace: every public name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import promptsearch


def test_every_public_name_resolves() -> None:
    for name in promptsearch.__all__:
        assert getattr(promptsearch, name) is not None, name
    assert promptsearch.load_prompt.__module__ == "promptsearch.export._predictor"
    assert dir(promptsearch) == sorted(promptsearch.__all__)


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, promptsearch; promptsearch.load_prompt; promptsearch.PromptSearch; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
