"""Shared pytest fixtures: tiny random models (built once per session, in milliseconds).

The fixtures are shared by every test of the session: do not modify them (weights, tokenizer
settings such as ``padding_side``). A test that must change one calls the factory in
``tests._tiny`` for a private copy.
"""

from __future__ import annotations

import os

# Tests never reach a model hub: fail fast instead of retrying for ~25 s. Set before anything
# imports huggingface_hub, which reads these once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from promptsearch.backends import FakeBackend
from promptsearch.models import LoadedModel
from promptsearch.tasks import Task
from tests import _tiny, _toy


@pytest.fixture(scope="session")
def tiny_causal() -> LoadedModel:
    """Tiny Llama (rotary positions), BOS-adding byte-level BPE tokenizer, pad = eos."""
    return _tiny.tiny_causal()


@pytest.fixture(scope="session")
def tiny_causal_absolute() -> LoadedModel:
    """Tiny GPT-2 (absolute positions: catches missing position ids under left padding)."""
    return _tiny.tiny_causal_absolute()


@pytest.fixture(scope="session")
def tiny_masked() -> LoadedModel:
    """Tiny BERT masked LM with a lowercasing WordPiece tokenizer and [MASK]."""
    return _tiny.tiny_masked()


@pytest.fixture(scope="session")
def tiny_seq2seq() -> LoadedModel:
    """Tiny T5 with a sentencepiece-like tokenizer and <extra_id_N> sentinels."""
    return _tiny.tiny_seq2seq()


@pytest.fixture(scope="session")
def toy_task() -> Task:
    """The sentiment toy task (see ``tests._toy``)."""
    return _toy.toy_task()


@pytest.fixture(scope="session")
def toy_choice_task() -> Task:
    """The multiple-choice toy task: each example has its own choices."""
    return _toy.toy_choice_task()


@pytest.fixture(scope="session")
def toy_generation_task() -> Task:
    """The generation toy task: short answers with references."""
    return _toy.toy_generation_task()


@pytest.fixture
def fake_lm() -> FakeBackend:
    """A fresh deterministic fake backend (its counters start at zero)."""
    return _toy.fake_backend()
