"""Winners that hold on the user's own data: nothing fitted is judged on what it was fitted to,
accuracy is estimated at the data's class balance, and the winner must pass a confirmation on
examples no fitting and no selection saw. Whole searches on the fake backend."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import promptsearch.generators
from promptsearch.backends import FakeBackend
from promptsearch.engine import PromptSearch, fitted_verbalizers
from promptsearch.space import SearchSpace, SeedTemplate, SplitSpec, TemplateSpace, VerbalizerSpace
from promptsearch.study import Attr
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt, Verbalizer
from tests.engine.test_fake_backend import classification_space

BASELINE = "Review: {text}\nSentiment:{label}"


def _space(seeds: tuple[str, ...], *, candidates: tuple[str, ...], auto: bool, **split: Any) -> SearchSpace:
    """Only the given templates and label words: zero-shot, uncalibrated, one generation."""
    base = classification_space()
    return replace(
        base,
        split=SplitSpec(**{"k": 8, "confirm": 0, **split}),
        templates=TemplateSpace(seeds=tuple(SeedTemplate(template=t) for t in seeds), n_initial=len(seeds)),
        verbalizers=VerbalizerSpace(candidates=candidates, auto=replace(base.verbalizers.auto, enabled=auto)),
        demonstrations=replace(base.demonstrations, counts=(0,)),
        calibration=(False,),
        evolution=replace(base.evolution, generations=1),
        selection=replace(base.selection, ensemble=0),
    )


def _task(n_pos: int, n_neg: int, *, test_size: int, pos: str = "good", neg: str = "bad") -> Task:
    """Texts ``"<cue> item<j>"``: every example has its own token ``item<j>``."""
    examples = [Example.create({"text": f"{pos} item{j}"}, "positive") for j in range(n_pos)]
    examples += [Example.create({"text": f"{neg} item{n_pos + j}"}, "negative") for j in range(n_neg)]
    return Task("planted", ("text",), ("negative", "positive"), tuple(examples), test_size=test_size)


def _knows(examples: Any, words: dict[str, str], *, wrong: bool = False) -> dict[str, dict[str, float]]:
    """Affinities that make label ``words`` right (or wrong) on exactly these examples."""
    out: dict[str, dict[str, float]] = {}
    for e in examples:
        label = e.label if not wrong else ("negative" if e.label == "positive" else "positive")
        out[e.inputs["text"].split()[-1]] = {words[label]: 8.0}
    return out


def _search(space: SearchSpace, task: Task, lm: FakeBackend, tmp_path: Path, n: int = 6) -> PromptSearch:
    return PromptSearch(space, task=task, model=lm, n_trials=n, out_dir=tmp_path).fit()


@pytest.mark.parametrize("leak_allowed", [False, True])
def test_label_words_fitted_on_train_are_not_judged_on_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leak_allowed: bool
) -> None:
    """A planted leak: automatic label words that the model "knows" on exactly the training
    examples (where they were searched) and not elsewhere. Judged on train and dev (the leak
    allowed, as before) they beat the user's words; judged on dev only they lose."""
    task = _task(40, 40, test_size=16)
    space = _space((BASELINE,), candidates=("negative,positive",), auto=True, k=12)
    split = space.split.make(task)
    leaked = Verbalizer.parse("zneg,zpos", task.label_names)
    monkeypatch.setattr(promptsearch.generators, "search_label_words", lambda *a, **k: [leaked])
    if leak_allowed:  # what the code did before: fitted words judged on every selection example
        from promptsearch.engine._context import SearchContext

        monkeypatch.setattr(
            SearchContext, "judged_on", lambda self, prompt, tuned=False: self.dev_ids if tuned else None
        )
    honest = {"good": {"positive": 1.0}, "bad": {"negative": 1.0}}
    lm = FakeBackend(
        affinities={**honest, **_knows(split.train, {"positive": "zpos", "negative": "zneg"})}, noise=10.0
    )
    search = _search(space, task, lm, tmp_path)
    assert fitted_verbalizers(search.study_) == {str(leaked)}
    leaked_rows = [r for r in search.leaderboard_.rows if r.verbalizer == str(leaked)]
    assert leaked_rows, "the leaked words were never scored"
    if leak_allowed:
        assert search.best_prompt_.verbalizer == leaked  # the leak wins, and loses on test:
        best = search.leaderboard_.best
        baseline = next(r for r in search.leaderboard_.rows if r.origin == "baseline")
        assert best.test_score is not None and baseline.test_score is not None
        assert best.test_score < baseline.test_score
        return
    assert search.best_prompt_.verbalizer != leaked
    assert all(r.dev_n == len(split.dev) for r in leaked_rows)  # judged on dev only
    for t in search.study_.trials:
        if t.params.get("verbalizer") == str(leaked) and t.value is not None:
            assert t.user_attrs[Attr.N_EVALUATED] <= len(split.dev)


@pytest.mark.parametrize("strategy", ["k_shot", "data"])
def test_accuracy_is_estimated_at_the_data_class_balance(tmp_path: Path, strategy: str) -> None:
    """90% positive data. The template that always says "positive" is right 90% of the time on
    the data; the other finds every negative and half the positives: 75% on a balanced dev set
    but 55% on the data. The search must keep the first."""
    task = _task(270, 30, test_size=60, pos="meh")
    other = "{text} It was{label}"
    space = _space((BASELINE, other), candidates=("negative,positive",), auto=False, strategy=strategy)
    lm = FakeBackend(affinities={"review": {"positive": 6.0}, "bad": {"negative": 5.0}}, noise=1.0)
    search = _search(space, task, lm, tmp_path)
    rows = {r.template: r for r in search.leaderboard_.rows}
    assert search.best_prompt_.template.source == BASELINE
    assert rows[BASELINE].test_score == pytest.approx(0.9, abs=0.07)
    assert rows[other].test_score is not None and rows[other].test_score < 0.75
    assert rows[BASELINE].dev_score > rows[other].dev_score  # the selection estimate agrees with test
    sel = search.leaderboard_.metadata["selection"]
    assert sel["strategy"] == strategy
    assert sel["data_shares"]["positive"] == pytest.approx(0.9, abs=0.01)
    if strategy == "k_shot":
        assert sel["selection_shares"]["positive"] == pytest.approx(0.5)
        assert "data's class shares" in sel["objective"]
    else:  # dev follows the data
        assert sel["selection_shares"]["positive"] == pytest.approx(0.9, abs=0.05)


def test_accuracy_on_a_balanced_set_would_choose_the_other(tmp_path: Path) -> None:
    """The same search judged unweighted (the code before): the collapse wins."""
    task = _task(270, 30, test_size=60, pos="meh")
    other = "{text} It was{label}"
    space = _space((BASELINE, other), candidates=("negative,positive",), auto=False, strategy="k_shot")
    lm = FakeBackend(affinities={"review": {"positive": 6.0}, "bad": {"negative": 5.0}}, noise=1.0)
    with pytest.MonkeyPatch.context() as mp:
        import promptsearch.engine._search as engine_search

        mp.setattr(engine_search, "at_data_balance", lambda metric, *a: metric)
        search = _search(space, task, lm, tmp_path)
    assert search.best_prompt_.template.source == other


@pytest.mark.parametrize("confirmed", [False, True])
def test_the_winner_must_not_lose_on_the_confirmation_examples(tmp_path: Path, confirmed: bool) -> None:
    """Label words "no,yes" are perfect on the selection examples (a winner's curse made
    extreme). Where they are wrong on the confirmation examples, the template is kept."""
    task = _task(60, 60, test_size=16)
    space = _space((BASELINE,), candidates=("negative,positive", "no,yes"), auto=False, k=8, confirm=40)
    split = space.split.make(task)
    assert len(split.confirm) == 40
    assert not {e.id for e in split.confirm} & {e.id for e in (*split.train, *split.dev, *split.test)}
    yes = {"positive": "yes", "negative": "no"}
    known = {
        **_knows(split.train, yes),
        **_knows(split.dev, yes),
        **_knows(split.confirm, yes, wrong=not confirmed),
    }
    lm = FakeBackend(affinities={"good": {"positive": 0.5}, "bad": {"negative": 0.5}, **known}, noise=3.0)
    search = _search(space, task, lm, tmp_path)
    sel = search.leaderboard_.metadata["selection"]
    assert sel["confirmation"] is not None and sel["confirmation"]["n"] == 40
    assert sel["confirmation"]["passed"] is confirmed
    assert set(sel["confirmation"]["gains"]) == {"accuracy", "macro_f1"}
    words = str(search.best_prompt_.verbalizer)
    if confirmed:
        assert words == str(Verbalizer.parse("no,yes", task.label_names))
        assert "not worse than your template" in sel["winner"]
    else:
        assert search.best_prompt_ == Prompt.from_dict(search.leaderboard_.best.prompt)
        assert search.leaderboard_.best.origin == "baseline"
        assert "confirmation" in sel["winner"] and "kept" in sel["winner"]
        assert "failed, your template kept" in (tmp_path / "leaderboard.md").read_text()


def test_no_confirmation_when_the_template_wins(tmp_path: Path) -> None:
    task = _task(60, 60, test_size=16)
    space = _space((BASELINE,), candidates=("negative,positive",), auto=False, confirm=40)
    lm = FakeBackend(affinities={"good": {"positive": 2.0}, "bad": {"negative": 2.0}})
    search = _search(space, task, lm, tmp_path, n=3)
    assert search.leaderboard_.metadata["selection"]["confirmation"] is None


def test_calibrated_prompts_aim_at_the_data_balance(tmp_path: Path) -> None:
    """Calibration divides by the content-free prediction and then multiplies by the data's
    class shares (not equal shares): the prior travels with the prompt through export."""
    from promptsearch.export import load_prompt, save_prompt

    task = _task(270, 30, test_size=60, pos="meh")
    space = replace(
        _space((BASELINE,), candidates=("negative,positive",), auto=False, strategy="data"),
        calibration=(True,),
        selection=replace(classification_space().selection, rule="best", ensemble=0),
    )
    lm = FakeBackend(affinities={"bad": {"negative": 3.0}}, noise=1.0)
    search = _search(space, task, lm, tmp_path, n=2)
    prompt = search.best_prompt_
    assert prompt.calibrate and prompt.prior == pytest.approx(search.split_.shares)
    assert prompt.prior[1] == pytest.approx(0.9, abs=0.01)
    uniform = replace(prompt, prior=())
    assert uniform.id != prompt.id and uniform.requests_id == prompt.requests_id  # same requests
    test = list(search.split_.test)
    from promptsearch.scoring import predict

    aimed = predict(lm, prompt, task, test).predictions
    flat = predict(lm, uniform, task, test).predictions
    assert sum(aimed.predicted) > sum(flat.predicted)  # more of the majority class (index 1)
    save_prompt(tmp_path / "export", prompt, model=lm, task=task)
    assert load_prompt(tmp_path / "export", model=lm).prompt.prior == prompt.prior


def test_a_users_file_is_split_by_its_own_balance(tmp_path: Path) -> None:
    """``split.strategy: auto``: a file is the user's data (``data``), a Task object or a
    catalog task keeps LM-BFF's K-shot split; a typo in the strategy names the choices."""
    from promptsearch.exceptions import ConfigError

    rows = (
        ["text,label"]
        + [f"meh item{i},positive" for i in range(270)]
        + [f"bad item{i},negative" for i in range(30)]
    )
    data = tmp_path / "mine.csv"
    data.write_text("\n".join(rows) + "\n")
    space = _space((BASELINE,), candidates=(), auto=False, strategy="auto", confirm=40)
    search = PromptSearch(
        space, task=str(data), model=FakeBackend(), n_trials=2, out_dir=tmp_path / "a"
    ).fit()
    assert search.split_.strategy == "data" and len(search.split_.confirm) == 40
    assert search.split_.shares == pytest.approx((0.1, 0.9), abs=0.01)
    as_object = PromptSearch(space, task=_task(270, 30, test_size=75), model=FakeBackend(), n_trials=2).fit()
    assert as_object.split_.strategy == "k_shot"
    with pytest.raises(ConfigError, match=r"split.strategy: unknown value 'dat'.*data"):
        SplitSpec(strategy="dat")


def test_only_a_loss_beyond_noise_fails_the_confirmation() -> None:
    """The confirmation refuses a winner that is worse with 95% confidence (its 90% interval
    below 0), not one whose gain is negative by noise (movies5, seed 13: macro-F1 -0.021
    [-0.052, +0.012] on the confirmation examples, then +1.9 points on test)."""
    from promptsearch.engine._confirm import worse_beyond_noise

    assert not worse_beyond_noise(-0.052, 0.012, 1.0)  # within noise: passes
    assert worse_beyond_noise(-0.262, -0.026, 1.0)  # rt-85-15 seed 21: macro-F1 -0.150, refused
    assert not worse_beyond_noise(0.01, 0.05, 1.0)
    assert worse_beyond_noise(0.01, 0.05, -1.0)  # a loss metric that went up: worse
    assert not worse_beyond_noise(-0.05, 0.01, -1.0)
