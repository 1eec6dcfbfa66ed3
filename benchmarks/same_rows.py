"""Same seed, same rows: the leaderboard rows of three tiny-model searches, as JSON.

A refactor that must not change results is checked by running this in the checkout before and
after it and comparing the outputs (``diff`` shows any row that moved):

    git worktree add /tmp/before <commit>
    (cd /tmp/before && PYTHONPATH=. python /path/to/benchmarks/same_rows.py) > before.json
    python benchmarks/same_rows.py > after.json && diff before.json after.json

The searches (the tests' tiny random models and toy tasks, built in-process, seconds each):
  * the fake backend on the toy sentiment task, 10 trials;
  * a tiny causal LM on ``search_spaces/movies.yaml`` cut down (k=4, two generations), 8 trials;
  * the same with joint prompt tuning (``tuning: {modes: [none, prompt_tuning]}``), 6 trials.

``--generation`` runs instead the three generation spaces (``e2e-nlg``, ``negation``,
``qa-wikidata``, cut down the same way, 8 trials each) on the toy capitals task, with the fake
backend (whose answers depend on the prompt, so scores differ between prompts) and with the
tiny causal LM: the K-shot selection path of generation tasks, run on older checkouts too.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path.cwd()  # the checkout being checked (its tests/ builds the tiny models)


def _rows(search: Any) -> list[dict[str, Any]]:
    return [
        {
            "prompt_id": r.prompt_id,
            "origin": r.origin,
            "trial": r.trial,
            "dev": round(r.dev_score, 9),
            "dev_n": r.dev_n,
            "test": None if r.test_score is None else round(r.test_score, 9),
            "tuning": r.tuning,
        }
        for r in search.leaderboard_.rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", action="store_true", help="the generation spaces instead")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from promptsearch.search import PromptSearch, load_search_space
    from tests import _tiny, _toy

    out: dict[str, list[dict[str, Any]]] = {}
    if args.generation:
        for name in ("e2e-nlg", "negation", "qa-wikidata"):
            for label, model in (("fake backend", _toy.fake_backend), ("tiny causal LM", _tiny.tiny_causal)):
                search = PromptSearch(
                    _cut_down(load_search_space(ROOT / "search_spaces" / f"{name}.yaml"), test_limit=8),
                    task=_toy.toy_generation_task(),
                    model=model(),
                    n_trials=8,
                    seed=13,
                )
                out[f"{label}, {name}.yaml cut down, capitals, 8 trials"] = _rows(search.fit())
        _dump(out)
        return
    from tests.engine.test_fake_backend import classification_space

    fake = PromptSearch(
        classification_space(), task=_toy.toy_task(), model=_toy.fake_backend(), n_trials=10, seed=13
    )
    out["fake backend, toy task, 10 trials"] = _rows(fake.fit())
    space = _cut_down(load_search_space(ROOT / "search_spaces" / "movies.yaml"), test_limit=16)
    tiny = PromptSearch(space, task=_toy.toy_task(), model=_tiny.tiny_causal(), n_trials=8, seed=13)
    out["tiny causal LM, movies.yaml cut down, 8 trials"] = _rows(tiny.fit())
    soft = replace(
        space,
        tuning={"modes": ["none", "prompt_tuning"], "prompt_tuning": {"n_tokens": [2], "steps": [3]}},  # type: ignore[arg-type]
    )
    tuned = PromptSearch(soft, task=_toy.toy_task(), model=_tiny.tiny_causal(), n_trials=6, seed=13)
    out["tiny causal LM, joint prompt tuning, 6 trials"] = _rows(tuned.fit())
    _dump(out)


def _cut_down(base: Any, *, test_limit: int) -> Any:
    """``base`` with k=4, two generations of 4, 8 initial templates and the top 3 on test."""
    return replace(
        base,
        split=replace(base.split, k=4),
        evolution=replace(base.evolution, generations=2, population=4, parents=2),
        templates=replace(base.templates, n_initial=8),
        final=replace(base.final, top=3, test_limit=test_limit),
    )


def _dump(out: dict[str, list[dict[str, Any]]]) -> None:
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
