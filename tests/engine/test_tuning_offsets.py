"""A tuning mode's training steps are stored in the study: importing plugins in another order
does not move the steps of an existing study's trials."""

from __future__ import annotations

import json

import optuna
import pytest

from promptsearch.engine._tuning import step_offset
from promptsearch.study import TRAIN_STEP_OFFSET, StudyAttr
from promptsearch.tuning import tuning_modes


def test_offsets_are_stored_once_and_survive_another_registration_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = optuna.create_study()
    first = {m: step_offset(study, m) for m in ("prompt_tuning", "lora")}
    stored = json.loads(study.user_attrs[StudyAttr.TUNING_OFFSETS])
    assert all(first[m] == TRAIN_STEP_OFFSET * (1 + stored[m]) for m in first)
    reordered = dict(reversed(list(tuning_modes._entries.items())))  # plugins imported in another order
    monkeypatch.setattr(tuning_modes, "_entries", reordered)
    assert {m: step_offset(study, m) for m in first} == first
    fresh = optuna.create_study()  # a new study takes the order of today's registrations
    assert step_offset(fresh, "prompt_tuning") != first["prompt_tuning"] or len(reordered) == 1
    monkeypatch.setitem(reordered, "late_plugin", reordered["prompt_tuning"])
    late = step_offset(study, "late_plugin")  # a mode first used later gets the next free range
    assert late == TRAIN_STEP_OFFSET * (1 + max(stored.values()) + 1)
