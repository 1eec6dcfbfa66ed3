"""Every backend shipped passes the conformance suite."""

from __future__ import annotations

import pytest

from promptsearch.backends import LMBackend, backends, hf_backend, load_backend
from promptsearch.models import LoadedModel
from tests import _toy
from tests.backends.conformance import check_backend


def _backend(name: str, request: pytest.FixtureRequest) -> LMBackend:
    if name == "fake":
        return _toy.fake_backend()
    if name == "soft-prompt":
        import torch

        from promptsearch.tuning import SoftPromptScorer

        lm: LoadedModel = request.getfixturevalue("tiny_causal")
        return SoftPromptScorer(lm, torch.zeros(3, 32) + 0.01, batch_size=4)
    return hf_backend(request.getfixturevalue(name), batch_size=4)


@pytest.mark.parametrize(
    "name", ["fake", "tiny_causal", "tiny_causal_absolute", "tiny_masked", "tiny_seq2seq", "soft-prompt"]
)
def test_backend_conformance(name: str, request: pytest.FixtureRequest) -> None:
    check_backend(_backend(name, request))


def test_builtin_backends_are_registered_and_loaded_by_name(tiny_causal: LoadedModel) -> None:
    assert {"hf", "fake"} <= set(backends.names())
    assert load_backend("hf", tiny_causal).name == tiny_causal.name
    fake = load_backend("fake", "demo", noise=0.5)
    assert fake.name == "demo" and load_backend("fake", fake) is fake


def test_bad_backend_options_are_config_errors() -> None:
    from promptsearch.exceptions import ConfigError, UnknownNameError

    with pytest.raises(ConfigError, match="does not take the options"):
        load_backend("fake", "demo", temprature=0.3)
    with pytest.raises(UnknownNameError, match="Did you mean 'fake'"):
        load_backend("fakes", "demo")
