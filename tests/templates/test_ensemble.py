"""PromptEnsemble: construction, validation, dict round trips, ids and the task check."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from promptsearch.exceptions import PromptSearchError, TemplateError
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt, PromptEnsemble, Template, prompt_fields

LABELS = ("negative", "positive")


def _members() -> tuple[Prompt, Prompt, Prompt]:
    demo = Example.create({"text": "a great film"}, "positive")
    return (
        Prompt.create("{text} It was{label}", "bad,good", LABELS, instruction="Classify.", calibrate=True),
        Prompt.create("Review: {text}\nSentiment:{label}", "negative|awful,positive", LABELS),
        Prompt.create("{text} All in all:{label}", "bad,great", LABELS, demonstrations=(demo,)),
    )


def test_of_takes_inherited_fields_from_the_first_member() -> None:
    a, b, c = _members()
    ensemble = PromptEnsemble.of([a, b, c])
    assert isinstance(ensemble, Prompt)
    assert ensemble.members == (a, b, c)
    assert ensemble.template == a.template and ensemble.verbalizer == a.verbalizer
    assert ensemble.instruction == "Classify." and ensemble.calibrate is True
    assert PromptEnsemble.of(iter([b, a])).template == b.template  # any iterable, first one wins
    assert ensemble != a and a != ensemble
    assert "PromptEnsemble(members=" in repr(ensemble)


def test_to_dict_from_dict_and_json_round_trip() -> None:
    a, b, c = _members()
    ensemble = PromptEnsemble.of([a, b, c])
    data = ensemble.to_dict()
    assert data == {"ensemble": [a.to_dict(), b.to_dict(), c.to_dict()]}
    back = Prompt.from_dict(json.loads(json.dumps(data)))
    assert isinstance(back, PromptEnsemble)
    assert back == ensemble and back.id == ensemble.id
    assert [m.id for m in back.members] == [a.id, b.id, c.id]
    assert PromptEnsemble.from_dict(data) == ensemble
    # Plain prompts still read back as plain prompts.
    plain = Prompt.from_dict(a.to_dict())
    assert type(plain) is Prompt and plain == a


def test_id_hashes_member_ids_in_order() -> None:
    a, b, c = _members()
    ab = PromptEnsemble.of([a, b])
    assert ab.id == PromptEnsemble.of([a, b]).id
    assert ab.id != PromptEnsemble.of([b, a]).id  # order matters
    assert ab.id != PromptEnsemble.of([a, c]).id
    assert ab.id not in {a.id, b.id}
    assert ab.id != PromptEnsemble.of([replace(a, calibrate=False), b]).id  # a member changed
    assert len(ab.id) == 16
    plain = PromptEnsemble.of([replace(a, calibrate=False), b])
    assert ab.requests_id == plain.requests_id != PromptEnsemble.of([a, c]).requests_id


def test_invalid_ensembles_raise() -> None:
    a, b, _ = _members()
    with pytest.raises(TemplateError, match="at least two member prompts, got 1"):
        PromptEnsemble.of([a])
    with pytest.raises(TemplateError, match="got none"):
        PromptEnsemble.of([])
    with pytest.raises(TemplateError, match="flatten"):
        PromptEnsemble.of([PromptEnsemble.of([a, b]), a])
    other = Prompt.create("{text}{label}", "no,yes,maybe", ["no", "yes", "maybe"])
    with pytest.raises(TemplateError, match="different labels"):
        PromptEnsemble.of([a, other])
    choice = Prompt(Template("{text} Answer:{label}"), None)
    with pytest.raises(TemplateError, match="different labels"):
        PromptEnsemble.of([a, choice])
    generation = Prompt(Template("Q: {text}\nA:", generation=True), None)
    with pytest.raises(TemplateError, match="generation prompt"):
        PromptEnsemble.of([choice, generation])
    with pytest.raises(TemplateError, match='"ensemble" list'):
        PromptEnsemble.from_dict(a.to_dict())
    with pytest.raises(PromptSearchError, match="at least two"):
        Prompt.from_dict({"ensemble": [a.to_dict()]})


def test_check_every_member_and_refuse_generation(
    toy_task: Task, toy_choice_task: Task, toy_generation_task: Task
) -> None:
    a, b, c = _members()
    PromptEnsemble.of([a, b, c]).check(toy_task)
    bad = Prompt.create("{title} It was{label}", "bad,good", LABELS)
    with pytest.raises(TemplateError, match=r"Member 1 of the ensemble: .*title"):
        PromptEnsemble.of([a, bad]).check(toy_task)
    choices = [
        Prompt(Template("{text} Answer:{label}"), None),
        Prompt(Template("{text} Color:{label}"), None),
    ]
    PromptEnsemble.of(choices).check(toy_choice_task)
    with pytest.raises(TemplateError, match="Member 0 of the ensemble"):
        PromptEnsemble.of([a, b]).check(toy_choice_task)
    with pytest.raises(TemplateError, match=r"generate texts.*single prompt"):
        PromptEnsemble.of(choices).check(toy_generation_task)


def test_an_ensemble_has_no_text_of_its_own() -> None:
    ensemble = PromptEnsemble.of(_members()[:2])
    example = Example.create({"text": "fine"}, "positive")
    renders: tuple[Callable[[], object], ...] = (
        lambda: ensemble.instance(example),
        lambda: ensemble.instances([example]),
        lambda: ensemble.content_free_instances(),
        lambda: ensemble.prefix,
        lambda: ensemble.prefix_with([example]),
    )
    for render in renders:
        with pytest.raises(TemplateError, match=r"no single text.*predict"):
            render()
    assert ensemble.members[0].instance(example).context.startswith("fine")


def test_prompt_fields_are_the_union_of_the_members() -> None:
    a = Prompt.create("{title}: {text}{label}", "bad,good", LABELS)
    b = Prompt.create("{text} ({source}){label}", "bad,good", LABELS)
    assert prompt_fields(a) == ("title", "text")
    assert prompt_fields(PromptEnsemble.of([a, b])) == ("title", "text", "source")
    assert prompt_fields(PromptEnsemble.of([b, a])) == ("text", "source", "title")
