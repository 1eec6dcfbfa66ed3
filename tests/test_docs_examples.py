"""Every Python example of ``docs/architecture.md`` runs: the extension points it documents are true.

Each code block is executed as written (its registrations are undone afterwards); the plugins it
registers are then looked up by name, and the task type and the operator are used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptsearch.backends import backends
from promptsearch.generators import operators
from promptsearch.metrics import metrics
from promptsearch.tasks import task_types
from promptsearch.tuning import tuning_modes

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
REGISTRIES = (backends, metrics, task_types, operators, tuning_modes)


@pytest.fixture()
def registries() -> Iterator[None]:
    saved = [dict(r._entries) for r in REGISTRIES]
    yield
    for registry, entries in zip(REGISTRIES, saved):
        registry._entries = entries


def _run(block: str) -> dict[str, Any]:
    """Run ``block`` as the module ``docs_example`` (dataclasses look their module up)."""
    import sys
    import types

    module = types.ModuleType("docs_example")
    sys.modules[module.__name__] = module
    try:
        exec(compile(block, str(DOC), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


def test_the_doc_has_its_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_example_runs(index: int, registries: None) -> None:
    _run(BLOCKS[index])


def test_the_documented_plugins_are_registered_and_work(registries: None) -> None:
    from promptsearch.exceptions import DataError
    from promptsearch.generators import Candidate
    from promptsearch.tasks import Example, Task

    for block in BLOCKS:
        _run(block)
    assert {"my-engine"} <= set(backends.names())
    assert {"recall_positive"} <= set(metrics.names()) and "ranking" in task_types.names()
    assert "exclaim" in operators.names() and "ia3" in tuning_modes.names()
    three = tuple(Example.create({"text": f"q{i}"}, "b", choices=("a", "b", "c")) for i in range(4))
    task = Task("ranked", ("text",), (), three, task_type="ranking")  # checked by the new type
    assert task.kind.name == "ranking" and task.metric == "accuracy"
    with pytest.raises(DataError, match="at least 3 candidates"):
        Task(
            "pairs",
            ("text",),
            (),
            (Example.create({"text": "q"}, "a", choices=("a", "b")),),
            task_type="ranking",
        )
    exclaim = operators.get("exclaim")()
    out = exclaim.propose(
        Candidate("Classify.", "Review: {text}\nSentiment:{label}"), np.random.default_rng(0), 1
    )
    assert out and out[0].instruction == "Classify.!"
