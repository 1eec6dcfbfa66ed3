from __future__ import annotations

import pytest

from promptsearch.exceptions import TemplateError, VerbalizerError
from promptsearch.tasks import Example, Task
from promptsearch.templates import (
    FieldPart,
    LabelPart,
    Prompt,
    SoftPart,
    Template,
    TextPart,
    Verbalizer,
    join_label,
)


def test_parse_parts_and_fields() -> None:
    t = Template("Q: {question} {{braces}} C: {context}\nA:{label} end {soft:4}")
    assert t.fields == ("question", "context")
    assert t.n_soft == 4
    assert isinstance(t.parts[0], TextPart) and t.parts[0].text == "Q: "
    assert isinstance(t.parts[1], FieldPart)
    assert any(isinstance(p, LabelPart) for p in t.parts)
    assert isinstance(t.parts[-1], SoftPart)
    assert "{braces}" in t.render({"question": "q", "context": "c"}).context


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{text.upper} {label}", "position 0"),
        ("{text} {label} {x[0]}", "position 15"),
        ("{text} {label", "Unclosed '{' at position 7"),
        ("{text} } {label}", "Unmatched '}' at position 7"),
        ("{__import__('os')} {label}", "no attribute access"),
        ("{text}", "0 {label} slots"),
        ("{label}{label}", "2 {label} slots"),
        ("{soft:0}{label}", "at least one soft token"),
    ],
)
def test_bad_templates_name_the_problem(source: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=None) as info:
        Template(source)
    assert fragment in str(info.value)


def test_label_join_rule() -> None:
    assert join_label("Sentiment:", "negative") == " negative"
    assert join_label("Sentiment: ", "negative") == "negative"
    assert join_label("line\n", "negative") == "negative"
    assert join_label("", "negative") == "negative"


def test_missing_field_is_reported() -> None:
    with pytest.raises(TemplateError, match="needs field 'title'"):
        Template("{title} {label}").render({"text": "x"})
    with pytest.raises(TemplateError, match="available fields"):
        Template("{title} {label}").check_fields(["text"])


def test_verbalizer_parse_forms() -> None:
    labels = ("negative", "positive")
    assert Verbalizer.parse("bad|awful, good", labels).words("negative") == ("bad", "awful")
    named = Verbalizer.parse("positive=good,negative=bad", labels)
    assert named.words("positive") == ("good",) and named.labels == labels
    with pytest.raises(VerbalizerError, match="2 labels"):
        Verbalizer.parse("a,b,c", labels)
    with pytest.raises(VerbalizerError, match="no word for label"):
        Verbalizer.from_mapping({"negative": "bad"}, labels)
    with pytest.raises(VerbalizerError, match="no label word"):
        Verbalizer.parse("bad,", labels)
    with pytest.raises(VerbalizerError, match="unknown label"):
        Verbalizer.from_mapping({"neg": "bad", "negative": "b", "positive": "g"}, labels)


def _task() -> Task:
    exs = tuple(Example.create({"text": t}, lab) for t, lab in [("good", "positive"), ("bad", "negative")])
    return Task("t", ("text",), ("negative", "positive"), exs)


def test_prompt_renders_instruction_demos_and_choices() -> None:
    task = _task()
    p = Prompt.create(
        "Review: {text}\nSentiment:{label}",
        "bad,good",
        task.label_names,
        instruction="Classify.",
        demonstrations=task.examples,
    )
    inst = p.instance(Example.create({"text": "fine"}, "positive"))
    assert inst.prefix == "Classify.\n\nReview: good\nSentiment: good\n\nReview: bad\nSentiment: bad\n\n"
    assert inst.context == "Review: fine\nSentiment:"
    assert inst.choices == (" bad", " good") and inst.choice_labels == (0, 1)
    p.check(task)


def test_prompt_id_is_content_hash_and_roundtrips() -> None:
    task = _task()
    a = Prompt.create("{text} It was{label}", "bad,good", task.label_names, demonstrations=task.examples[:1])
    b = Prompt.create("{text} It was{label}", "bad,good", task.label_names, demonstrations=task.examples[:1])
    c = Prompt.create("{text} It was{label}", "bad,great", task.label_names)
    assert a.id == b.id != c.id
    assert Prompt.from_dict(a.to_dict()).id == a.id


def test_requests_id_ignores_calibration_only() -> None:
    """Prompts that differ only by calibration send the same requests (one requests_id)."""
    task = _task()
    plain = Prompt.create("{text} It was{label}", "bad,good", task.label_names)
    calibrated = Prompt.create("{text} It was{label}", "bad,good", task.label_names, calibrate=True)
    other = Prompt.create("{text} It was{label}", "bad,great", task.label_names, calibrate=True)
    assert plain.id != calibrated.id
    assert plain.requests_id == calibrated.requests_id != other.requests_id
    assert plain.instances(task.examples) == calibrated.instances(task.examples)


def test_prompt_check_rejects_wrong_labels() -> None:
    p = Prompt.create("{text}{label}", "a,b,c", ("x", "y", "z"))
    with pytest.raises(TemplateError, match="verbalizer covers labels"):
        p.check(_task())


def test_soft_slots_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``{soft:N}`` is checked when parsed, before anything is rendered or allocated."""
    from promptsearch.templates import Template

    for source in ("{soft:100000000} {text}{label}", "{soft:" + "9" * 5000 + "} {text}{label}"):
        with pytest.raises(TemplateError, match="more soft tokens than the limit of 512"):
            Template(source)
    with pytest.raises(TemplateError, match="holds 600 soft tokens in all"):
        Template("{soft:300} {text}{soft:300}{label}")
    monkeypatch.setenv("PROMPTSEARCH_MAX_SOFT_TOKENS", "1000")
    assert Template("{soft:300} {text}{soft:300}{label}").n_soft == 600
