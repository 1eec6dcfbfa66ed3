from __future__ import annotations

import optuna
import pytest

from promptsearch.study import make_pruner, make_sign_test_pruner, pruners, sign_test_p_value


def test_sign_test_p_values() -> None:
    assert sign_test_p_value(4, 0) == pytest.approx(1 / 16)
    assert sign_test_p_value(0, 0) == 1.0
    assert sign_test_p_value(5, 1) == pytest.approx(7 / 64)
    assert sign_test_p_value(1, 5) > 0.9


def _study_with_best(correct: list[int], scale: float = 1.0, direction: str = "maximize") -> optuna.Study:
    # Values are correctness plus a tie-break below ``min_difference``, times ``scale``.
    pruner = make_sign_test_pruner(p_threshold=0.1, min_difference=0.01 * abs(scale))
    study = optuna.create_study(direction=direction, pruner=pruner)
    best = optuna.trial.create_trial(
        value=sum(correct) / len(correct),
        intermediate_values={i: scale * (float(c) + 0.005) for i, c in enumerate(correct)},
    )
    study.add_trial(best)
    return study


def test_prunes_a_clearly_worse_trial_and_keeps_a_close_one() -> None:
    study = _study_with_best([1] * 8)
    poor = study.ask()
    for i, c in enumerate([0, 1, 0, 0, 1, 0, 1, 1]):
        poor.report(float(c), i)
    assert poor.should_prune()  # 4 discordant, none the other way: p = 1/16
    close = study.ask()
    for i, c in enumerate([1, 1, 0, 1, 1, 1, 1, 1]):
        close.report(float(c), i)
    assert not close.should_prune()
    better = study.ask()
    for i in range(8):
        better.report(1.01, i)
    assert not better.should_prune()


def test_sign_is_a_named_pruner() -> None:
    assert type(make_pruner("sign", {"p_threshold": 0.05})).__name__ == "SignTestPruner"


@pytest.mark.parametrize("scale", [100.0, -1.0])
def test_the_sign_test_makes_no_assumption_about_the_value_range(scale: float) -> None:
    """The same decisions on values scaled by 100, and on a minimized (negated) objective."""
    direction = "maximize" if scale > 0 else "minimize"
    study = _study_with_best([1] * 8, scale=scale, direction=direction)
    poor = study.ask()
    for i, c in enumerate([0, 1, 0, 0, 1, 0, 1, 1]):
        poor.report(scale * float(c), i)
    assert poor.should_prune()
    close = study.ask()
    for i, c in enumerate([1, 1, 0, 1, 1, 1, 1, 1]):
        close.report(scale * float(c), i)
    assert not close.should_prune()


def test_paired_pruners_are_registered_as_per_example() -> None:
    assert pruners.get("wilcoxon").per_example and pruners.get("sign").per_example
    assert not pruners.get("median").per_example
    sign = make_pruner("sign", {}, resolution=0.01)
    assert sign.min_difference == 0.01  # type: ignore[attr-defined]  # the engine's tie-break
