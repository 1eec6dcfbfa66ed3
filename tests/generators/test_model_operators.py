"""Operators backed by a language model, on the tiny random models."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from promptsearch.exceptions import ModelError
from promptsearch.generators import Candidate, RewriteOperator, SubstituteOperator
from promptsearch.generators._rewrite import clean_rewrite
from promptsearch.models import LoadedModel
from promptsearch.scoring import make_scorer
from tests.generators.conformance import PARENTS, check_proposals

PARENT = Candidate("Read the movie review and decide the sentiment.", "Review: {text}\nSentiment:{label}")


def test_import_does_not_load_torch() -> None:
    import subprocess

    code = "import sys, promptsearch.generators; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_substitute_from_model_proposes_whole_words(tiny_causal: LoadedModel) -> None:
    scorer = make_scorer(tiny_causal)
    op = SubstituteOperator({}, scorer=scorer, max_positions=3)
    out = op.propose(PARENT, np.random.default_rng(0), 6)
    assert len(out) == 6
    check_proposals(op, (PARENT,), out, 6)
    vocab = tiny_causal.tokenizer.get_vocab()
    for cand in out:
        old, new = cand.detail.removeprefix("substitute ").split(" -> ")
        old, new = old.strip("'"), new.strip("'")
        assert new.isalpha() and len(new) >= 3 and new.lower() != old.lower()
        assert "Ġ" + new in vocab or "Ġ" + new.lower() in vocab  # one leading-space token
    assert out == op.propose(PARENT, np.random.default_rng(0), 6)


def test_substitute_from_model_follows_probabilities(tiny_causal: LoadedModel) -> None:
    scorer = make_scorer(tiny_causal)
    parent = Candidate("Read the movie", "{text}{label}")
    out = SubstituteOperator({}, scorer=scorer, scope="instruction").propose(
        parent, np.random.default_rng(0), 3
    )
    # "Read" has an empty context and is skipped; "the" and "movie" are asked about.
    logp = scorer.next_token_logprobs(["Read the"]).logprobs[0]
    tok = tiny_causal.tokenizer
    best = [
        tok.decode([int(i)]).strip()
        for i in np.argsort(-logp)
        if tok.decode([int(i)]).startswith(" ")
        and tok.decode([int(i)]).strip().isalpha()
        and len(tok.decode([int(i)]).strip()) >= 3
        and tok.decode([int(i)]).strip() != "movie"
    ]
    movie_words = [c.instruction.split()[-1] for c in out if c.instruction.startswith("Read the ")]
    assert movie_words and movie_words[0] == best[0]


def test_substitute_with_masked_scorer_reports_unsupported(tiny_masked: LoadedModel) -> None:
    op = SubstituteOperator({}, scorer=make_scorer(tiny_masked))
    try:
        out = op.propose(PARENT, np.random.default_rng(0), 3)
    except ModelError as err:  # a backend without next-token distributions
        assert "scorer=None" in str(err)
    else:
        check_proposals(op, (PARENT,), out, 3)


@pytest.mark.parametrize("parent", PARENTS, ids=lambda p: p.template[:12])
def test_rewrite_handles_garbage(tiny_causal: LoadedModel, parent: Candidate) -> None:
    op = RewriteOperator(tiny_causal, max_new_tokens=12)
    state = torch.random.get_rng_state()
    out = op.propose(parent, np.random.default_rng(0), 4)
    assert torch.equal(state, torch.random.get_rng_state())  # the global torch stream is untouched
    check_proposals(op, (parent,), out, 4)
    for cand in out:
        assert cand.template == parent.template
        assert cand.instruction and "\n" not in cand.instruction and cand.instruction.isprintable()
    if not parent.instruction:
        assert out == []
    assert out == op.propose(parent, np.random.default_rng(0), 4)


def test_rewrite_uses_a_chat_template(tiny_causal: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    op = RewriteOperator(tiny_causal)
    tok = tiny_causal.tokenizer
    monkeypatch.setattr(
        tok,
        "chat_template",
        "{% for m in messages %}<s>USER: {{ m['content'] }}{% endfor %}\nBOT:",
        raising=False,
    )
    from promptsearch.backends import GenerationRequest, GenerationSettings
    from promptsearch.backends._hf_generate import prompt_ids
    from promptsearch.generators._rewrite import REWRITE_REQUEST

    text = op.model.chat_prompt(REWRITE_REQUEST.format(instruction="Be nice."))
    assert text.startswith("<s>USER: Rewrite this instruction") and text.endswith("BOT:")
    ids = prompt_ids(op.model, [GenerationRequest(text)], GenerationSettings())[0]  # type: ignore[arg-type]
    assert ids.count(tok.bos_token_id) == 1  # the chat template's BOS is not doubled


def test_rewrite_rejects_masked_models(tiny_masked: LoadedModel) -> None:
    with pytest.raises(ModelError, match="can generate text"):
        RewriteOperator(tiny_masked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('  "Decide the sentiment."\nmore', "Decide the sentiment."),
        ("Rewritten instruction: Judge the tone.", "Judge the tone."),
        ("\n\n  Be   brief. ", "Be brief."),
        ("", None),
        ("   \n ", None),
        ("Use {text} here.", None),
        ("bad \x06 bytes", None),
        ("bad \ufffd bytes", None),
        ("x" * 301, None),
        ("classify the review.", None),
    ],
)
def test_clean_rewrite(text: str, expected: str | None) -> None:
    assert clean_rewrite(text, "Classify the review.", max_chars=300) == expected
