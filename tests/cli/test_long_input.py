"""A 200k-character input is cut to the model's context cheaply: never tokenized whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsearch.backends import HFBackend, load_backend
from promptsearch.cli import main
from promptsearch.export import save_prompt
from promptsearch.models import LoadedModel
from promptsearch.scoring import fit_instances
from promptsearch.tasks import Example
from promptsearch.templates import Prompt
from tests._tiny import save_loaded

HUGE = 200_000
TEXTS = {
    "words": ("a great fun film, " * (HUGE // 18 + 1))[:HUGE],
    "no-spaces": "x" * HUGE,
    "mixed": "".join(f"word{i} " if i % 7 else f"\n{i}!? " for i in range(HUGE // 6))[:HUGE],
}
PROMPT = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", ("negative", "positive"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("long") / "tiny")


@pytest.fixture()
def tokenized(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lengths (characters) of every text the HF backend counts or cuts."""
    lengths: list[int] = []
    count, truncate = HFBackend.count_tokens, HFBackend.truncate_text

    def counting(self: HFBackend, text: str) -> int:
        lengths.append(len(text))
        return count(self, text)

    def truncating(self: HFBackend, text: str, n_tokens: int) -> str:
        lengths.append(len(text))
        return truncate(self, text, n_tokens)

    monkeypatch.setattr(HFBackend, "count_tokens", counting)
    monkeypatch.setattr(HFBackend, "truncate_text", truncating)
    return lengths


def _bound(max_length: int) -> int:
    """Most characters a cheap cut may tokenize at once: a few times the context, never the input."""
    return 40 * max_length


@pytest.mark.parametrize("kind", list(TEXTS))
def test_cut_is_cheap_and_fills_the_context(kind: str, model_dir: Path, tokenized: list[int]) -> None:
    backend = load_backend("hf", str(model_dir), device="cpu")
    text = TEXTS[kind]
    [inst] = fit_instances(backend, PROMPT, [Example.create({"text": text}, "positive")])
    assert max(tokenized) <= _bound(backend.max_length) < HUGE
    context = inst.full_context + inst.suffix
    n = backend.count_tokens(context)
    assert backend.max_length - 16 <= n <= backend.max_length - 1  # full, with room for the label word
    kept = inst.full_context.split("Review: ", 1)[1].removesuffix("\nSentiment:")
    assert len(kept) > 100 and text.startswith(kept)


def test_short_fields_are_kept_whole(model_dir: Path, tokenized: list[int]) -> None:
    backend = load_backend("hf", str(model_dir), device="cpu")
    prompt = Prompt.create("{premise} Question: {hypothesis}? Answer:{label}", "no,yes", ("no", "yes"))
    example = Example.create({"premise": TEXTS["words"], "hypothesis": "the film was fun"}, "yes")
    [inst] = fit_instances(backend, prompt, [example])
    assert "Question: the film was fun? Answer:" in inst.full_context + inst.suffix
    assert backend.count_tokens(inst.full_context + inst.suffix) <= backend.max_length
    assert max(tokenized) <= _bound(backend.max_length)


def test_evaluate_and_predict_huge_inputs(
    model_dir: Path, tmp_path: Path, tokenized: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "huge.jsonl"
    rows = [{"text": f"{i} " + TEXTS["words"], "label": ("negative", "positive")[i % 2]} for i in range(24)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["-q", "evaluate", "--task", str(data), "--model", str(model_dir), "--k", "2", "--limit", "4"]
    assert main([*args, "--template", r"Review: {text}\nSentiment:{label}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 4
    assert tokenized and max(tokenized) <= _bound(256)

    tokenized.clear()
    folder = save_prompt(tmp_path / "exported", PROMPT, model=str(model_dir))
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS.values()), encoding="utf-8")
    assert main(["-q", "predict", str(folder), "--input", str(src), "--output", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in got] == list(TEXTS.values())  # the output keeps the whole input
    assert all(r["label"] in ("negative", "positive") for r in got)
    assert tokenized and max(tokenized) <= _bound(256)
