"""Fitting prompts into the model's context: inputs are cut, never the prompt; when nothing fits,
the message says which part takes the room."""

from __future__ import annotations

import pytest


def test_a_prompt_that_leaves_no_room_says_what_takes_it() -> None:
    """The advice names the part that fills the context: the answer's room or the prompt."""
    from promptsearch.backends import FakeBackend
    from promptsearch.exceptions import TemplateError
    from promptsearch.scoring import generation_settings, predict
    from promptsearch.tasks import Example, Task
    from promptsearch.templates import Prompt, Template

    lm = FakeBackend(max_length=256)
    qa = Task(
        "qa",
        ("text",),
        (),
        (Example.create({"text": "2+2?"}, references=["4"]),),
        test_size=0,
        task_type="generation",
    )
    short = Prompt(Template("Q: {text}\nA:", generation=True), None)
    settings = generation_settings(qa, max_new_tokens=250)
    with pytest.raises(TemplateError, match=r"250 more are kept for the answer.*lower max_new_tokens"):
        predict(lm, short, qa, qa.examples, generation=settings)
    reviews = Task("r", ("text",), ("bad", "good"), (Example.create({"text": "fine"}, "good"),), test_size=0)
    wordy = Prompt.create(
        "{text} It was{label}", "bad,good", ("bad", "good"), instruction="Read this. " * 200
    )
    with pytest.raises(
        TemplateError, match=r"longest label word.*fewer demonstrations or a shorter instruction"
    ):
        predict(lm, wordy, reviews, reviews.examples)
