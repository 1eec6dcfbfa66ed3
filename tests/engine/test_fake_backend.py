"""Whole searches on the deterministic fake backend: every task type, the metric the space
names, and no torch forward pass (torch is not even imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from promptsearch.backends import FakeBackend
from promptsearch.engine import PromptSearch
from promptsearch.scoring import predict
from promptsearch.space import (
    BackendSpec,
    GenerationSpec,
    SearchSpace,
    SeedTemplate,
    TemplateSpace,
    VerbalizerSpace,
    load_search_space,
)
from promptsearch.tasks import Task, few_shot_split
from promptsearch.templates import Prompt


def classification_space(**overrides: object) -> SearchSpace:
    """``movies.yaml`` on the fake backend, cut down: k=4, two generations of 4 candidates."""
    base = load_search_space("search_spaces/movies.yaml")
    settings: dict[str, object] = {
        "backend": BackendSpec("fake"),
        "split": replace(base.split, k=4),
        "templates": replace(base.templates, n_initial=6),
        "evolution": replace(base.evolution, generations=2, population=4, parents=2),
        "final": replace(base.final, top=3, test_limit=16),
    }
    return replace(base, **{**settings, **overrides})  # type: ignore[arg-type]


def _fit(space: SearchSpace, task: Task, lm: FakeBackend, n: int, tmp_path: Path) -> PromptSearch:
    return PromptSearch(space, task=task, model=lm, n_trials=n, out_dir=tmp_path).fit()


def test_a_search_on_the_fake_backend_never_imports_torch(tmp_path: Path) -> None:
    code = f"""
import sys
sys.path.insert(0, {str(Path.cwd())!r})
from tests.engine.test_fake_backend import classification_space
from tests import _toy
from promptsearch.engine import PromptSearch
search = PromptSearch(classification_space(), task=_toy.toy_task(), model=_toy.fake_backend(), n_trials=6,
                      out_dir={str(tmp_path)!r}).fit()
print(len(search.leaderboard_.rows), search.backend_.stats.instances > 0, "torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, scored, torch_loaded = out.stdout.split()
    assert int(rows) >= 1 and scored == "True" and torch_loaded == "False"


def test_same_seed_same_leaderboard_on_the_fake_backend(toy_task: Task, tmp_path: Path) -> None:
    space = classification_space()
    one = _fit(space, toy_task, FakeBackend(seed=1), 8, tmp_path / "a")
    two = _fit(space, toy_task, FakeBackend(seed=1), 8, tmp_path / "b")
    assert [t.value for t in one.study_.trials] == [t.value for t in two.study_.trials]
    assert [r.prompt_id for r in one.leaderboard_.rows] == [r.prompt_id for r in two.leaderboard_.rows]


def test_a_finished_study_is_decided_again_when_the_rules_change(
    toy_task: Task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptsearch.engine import _finalize

    space = classification_space()
    first = _fit(space, toy_task, FakeBackend(seed=1), 6, tmp_path)
    key = first.leaderboard_.metadata["finalize_key"]
    assert key.endswith(f":r{_finalize.RULES_REVISION}")
    calls: list[int] = []
    real = _finalize.finalize

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_finalize, "finalize", counted)
    again = _fit(space, toy_task, FakeBackend(seed=1), 6, tmp_path)  # same rules: the stored board
    assert calls == [] and again.leaderboard_.metadata["finalize_key"] == key
    monkeypatch.setattr(_finalize, "RULES_REVISION", _finalize.RULES_REVISION + 1)
    redone = _fit(space, toy_task, FakeBackend(seed=1), 6, tmp_path)  # new rules: decided again
    assert calls == [1]
    assert redone.leaderboard_.metadata["finalize_key"].endswith(f":r{_finalize.RULES_REVISION}")
    assert [r.prompt_id for r in redone.leaderboard_.rows] == [r.prompt_id for r in first.leaderboard_.rows]


def test_the_study_optimizes_the_metric_of_the_space(
    toy_task: Task, fake_lm: FakeBackend, tmp_path: Path
) -> None:
    space = classification_space(metric="macro_f1", calibration=(False,))
    search = _fit(space, toy_task, fake_lm, 10, tmp_path)
    assert search.study_.user_attrs["metric"] == "macro_f1" and search.leaderboard_.metric == "macro_f1"
    from promptsearch.engine import build_prompt, choices_of, fitted_verbalizers
    from promptsearch.study import TrialRecord

    split = few_shot_split(toy_task, k=4, seed=space.split.seed)
    fitted = fitted_verbalizers(search.study_)
    assert fitted  # automatic label words, fitted on train...

    def judged_on(prompt: Prompt) -> list:  # ...are judged on dev only; the others on train and dev
        members = getattr(prompt, "members", ()) or (prompt,)
        leak = any(str(m.verbalizer) in fitted for m in members)
        return list(split.dev) if leak else [*split.train, *split.dev]

    for row in search.leaderboard_.rows:  # the selection score is macro-F1, not accuracy
        prompt = Prompt.from_dict(row.prompt)
        dev = judged_on(prompt)
        y = [toy_task.label_index(e.label) for e in dev]
        out = predict(fake_lm, prompt, toy_task, dev).predictions
        assert row.dev_score == pytest.approx(f1_score(y, out.predicted, average="macro"))
        assert set(row.test_metrics) >= {"accuracy", "macro_f1", "balanced_accuracy"}

    checked = 0
    for trial in search.study_.trials:  # each fully scored trial's value: macro-F1 plus the tie-break
        if trial.value is None or "pruned_at" in trial.user_attrs:
            continue
        prompt = build_prompt(
            choices_of(TrialRecord.of(trial), search.verbalizers_),
            toy_task,
            split.train,
            split_seed=split.seed,
            pool=(*split.train, *split.dev),  # demonstrations leave-one-out
        )
        dev = judged_on(prompt)
        y = [toy_task.label_index(e.label) for e in dev]
        out = predict(fake_lm, prompt, toy_task, dev).predictions
        expected = f1_score(y, out.predicted, average="macro") + 0.01 * float(np.mean(out.confidence))
        assert trial.value == pytest.approx(expected)
        assert trial.user_attrs["dev_metric"] == pytest.approx(f1_score(y, out.predicted, average="macro"))
        checked += 1
    assert checked >= 3


def test_multiple_choice_search(toy_choice_task: Task, fake_lm: FakeBackend, tmp_path: Path) -> None:
    space = classification_space(
        task=None,
        templates=TemplateSpace(
            seeds=(
                SeedTemplate("Q: What color is {text}?\nA:{label}"),
                SeedTemplate("The color of {text} is{label}"),
            ),
            n_initial=4,
        ),
        verbalizers=VerbalizerSpace(),
        calibration=None,
    )
    search = _fit(space, toy_choice_task, fake_lm, 6, tmp_path)
    board = search.leaderboard_
    assert board.metric == "accuracy" and all(r.verbalizer == "" for r in board.rows)
    assert all("verbalizer" not in t.params and "calibrate" not in t.params for t in search.study_.trials)
    best = board.rows[0]
    assert best.test_score is not None and best.test_score > 0.5  # the fake model knows colors
    assert "| verbalizer |" not in (tmp_path / "leaderboard.md").read_text()


def test_generation_search(toy_generation_task: Task, fake_lm: FakeBackend, tmp_path: Path) -> None:
    space = classification_space(
        task=None,
        templates=TemplateSpace(
            seeds=(
                SeedTemplate("{text}\nAnswer:"),
                SeedTemplate("Question: {text}\nA:"),
                SeedTemplate("{text} The answer is"),
            ),
            grammar=None,
            n_initial=3,
        ),
        verbalizers=VerbalizerSpace(),
        demonstrations=replace(classification_space().demonstrations, counts=(0, 2)),
        calibration=None,
        split=replace(classification_space().split, k=8),
        generation=GenerationSpec(max_new_tokens=6, stop=(".", "\n")),
    )
    search = _fit(space, toy_generation_task, fake_lm, 6, tmp_path)
    board = search.leaderboard_
    assert board.metric == "exact_match"
    best = board.rows[0]
    assert {"exact_match", "token_f1"} <= set(best.test_metrics) and best.test_score is not None
    # every test metric has its interval, in the row, the JSON file and the HTML report
    assert set(best.test_intervals) == set(best.test_metrics)
    for name, (low, high) in best.test_intervals.items():
        assert low - 1e-9 <= best.test_metrics[name] <= high + 1e-9, name
    saved = json.loads((tmp_path / "leaderboard.json").read_text())["rows"][0]["test_intervals"]
    assert saved == {k: list(v) for k, v in best.test_intervals.items()}
    from promptsearch.reports import LeaderboardRow

    assert (
        LeaderboardRow.from_dict(json.loads((tmp_path / "leaderboard.json").read_text())["rows"][0]) == best
    )
    assert "test token_f1 [95% CI]" in (tmp_path / "report.html").read_text()
    assert best.examples and {"input", "output", "references"} <= set(best.examples[0])
    assert json.loads((tmp_path / "leaderboard.json").read_text())["rows"][0]["examples"]
    assert search.best_prompt_.template.generation
    # the export generates as the search did: same settings, same answers
    from promptsearch.export import export_search, load_prompt

    predictor = load_prompt(export_search(search, tmp_path / "export"), model=fake_lm)
    assert predictor.metadata["generation"] == {"max_new_tokens": 6, "stop": [".", "\n"]}
    assert "at most 6 new tokens" in (tmp_path / "export" / "README.md").read_text()
    inputs = [dict(e.inputs) for e in search.split_.test[:4]]
    expected = predict(
        fake_lm,
        search.best_prompt_,
        toy_generation_task,
        search.split_.test[:4],
        generation=search.generation_,
    )
    assert predictor.predict(inputs) == list(expected.predictions.predicted)


def test_space_and_task_type_mismatches_are_clear(toy_generation_task: Task, fake_lm: FakeBackend) -> None:
    from promptsearch.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"templates\.seeds\[0\]\.template.*generation task"):
        PromptSearch(classification_space(task=None), task=toy_generation_task, model=fake_lm).fit()
    with pytest.raises(ConfigError, match="reads \\['text'\\] predictions"):
        space = classification_space(task=None, metric="exact_match")
        PromptSearch(space, task=_toy_task(), model=fake_lm).fit()


def _toy_task() -> Task:
    from tests import _toy

    return _toy.toy_task()


def test_a_space_with_a_grammar_only_has_the_grammars_first_template_as_baseline(
    toy_task: Task, fake_lm: FakeBackend, tmp_path: Path
) -> None:
    space = classification_space()
    grammar_only = replace(space, templates=replace(space.templates, seeds=()))
    search = _fit(grammar_only, toy_task, fake_lm, 6, tmp_path)  # (this failed after every trial)
    baseline = next(r for r in search.leaderboard_.rows if r.origin == "baseline")
    first = space.templates.grammar.grammar().candidate(0)  # the first phrase of every slot
    assert Prompt.from_dict(baseline.prompt).template.source == first.template
    assert grammar_only.baseline_prompt(True).template.source == first.template
    assert space.baseline_prompt(True).template.source == space.templates.seeds[0].template
