"""The files that the bad-input cases name, each written into a case's folder by one function."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["FILES", "MODEL"]

MODEL = "tiny-model"  # the folder every case finds next to its files (a tiny random Llama)

_WORDS = {
    "positive": ["great", "fun", "lovely", "brilliant", "wonderful", "nice"],
    "negative": ["boring", "dull", "awful", "terrible", "poor", "bad"],
}


def _rows(n_per_label: int = 60) -> list[dict[str, str]]:
    rows = []
    for i in range(n_per_label):
        for label, words in _WORDS.items():
            rows.append({"text": f"a {words[i % len(words)]} movie, number {i}", "label": label})
    return rows


def _jsonl(rows: Sequence[Mapping[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


_SPACE = """\
version: 1
name: tiny
task: reviews.jsonl
model: tiny-model
templates:
  seeds:
    - "Review: {text}\\nSentiment:{label}"
split: {k: 4, seed: 13}
budget: {trials: 2}
final: {top: 1, test_limit: 4}
"""
_QA_SPACE = """\
version: 1
name: qa
model: tiny-model
templates:
  seeds:
    - "Question: {text}\\nAnswer:"
split: {k: 4, seed: 13}
budget: {trials: 2}
"""


def _text(name: str, content: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    return write


def _exported(name: str, change: Callable[[dict[str, object]], None] | None = None) -> Callable[[Path], None]:
    """A prompt folder as ``--export`` writes it, its manifest's prompt changed by ``change``."""

    def write(folder: Path) -> None:
        from promptsearch.export import save_prompt
        from promptsearch.templates import Prompt

        prompt = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", ("negative", "positive"))
        path = save_prompt(folder / name, prompt, model=MODEL)
        if change is not None:
            manifest = json.loads((path / "prompt.json").read_text(encoding="utf-8"))
            change(manifest["prompt"])
            (path / "prompt.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    return write


def _set(key: str, value: object) -> Callable[[dict[str, object]], None]:
    return lambda prompt: prompt.update({key: value})


FILES: dict[str, Callable[[Path], None]] = {
    "reviews.jsonl": _text("reviews.jsonl", _jsonl(_rows())),
    "one-class.jsonl": _text("one-class.jsonl", _jsonl([{**r, "label": "positive"} for r in _rows()])),
    "no-label.jsonl": _text(
        "no-label.jsonl", _jsonl([{"text": r["text"], "sentiment": r["label"]} for r in _rows()])
    ),
    "empty.jsonl": _text("empty.jsonl", ""),
    "latin1.csv": lambda folder: (folder / "latin1.csv").write_bytes(
        "text,label\nun caf\u00e9 sans go\u00fbt,negative\nsuperbe,positive\n".encode("latin-1")
    ),
    "qa.jsonl": _text(
        "qa.jsonl", _jsonl([{"text": f"{i} + {i}?", "reference": str(2 * i)} for i in range(20)])
    ),
    "space.yaml": _text("space.yaml", _SPACE),
    "qa-space.yaml": _text("qa-space.yaml", _QA_SPACE),
    "broken.yaml": _text("broken.yaml", _SPACE.replace('    - "Review', '    - ["Review')),
    "typo.yaml": _text("typo.yaml", _SPACE.replace("templates:", "tempaltes:")),
    # "billion laughs": 425 bytes, 9 levels of 9 aliases (a search used to hang on it)
    "bomb.yaml": _text(
        "bomb.yaml",
        "version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")),
    ),
    "earlier-run": _text("runs/tiny/leaderboard.md", "# Leaderboard of an earlier run\n"),
    "texts.jsonl": _text("texts.jsonl", _jsonl([{"text": "a great movie"}, {"text": "a dull movie"}])),
    "reviews.jsonl (no text)": _text("reviews-no-text.jsonl", _jsonl([{"review": "a great movie"}])),
    "broken.jsonl": _text("broken.jsonl", '{"text": "a great movie"}\n{"text": "a dull movie\n'),
    "predictions.jsonl": _text("predictions.jsonl", '{"text": "kept", "label": "positive"}\n'),
    "exported": _exported("exported"),
    "no-template": _exported("no-template", lambda prompt: prompt.pop("template")),
    "number-template": _exported("number-template", _set("template", 42)),
}


# -- Generation tasks (issue 10): data files and spaces with generation mistakes ---------------------

_ANSWERS = [{"text": f"What is {i} plus {i}?", "target": str(2 * i)} for i in range(80)]
_GEN_SPACE = """\
version: 1
name: sums
task: answers.jsonl
model: tiny-model
templates:
  seeds:
    - "Question: {text}\\nAnswer:"
split: {k: 4, seed: 13}
budget: {trials: 2}
"""

FILES.update(
    {
        "answers.jsonl": _text("answers.jsonl", _jsonl(_ANSWERS)),
        "answers-empty.jsonl": _text(
            "answers-empty.jsonl",
            _jsonl([{**r, "target": "" if i == 3 else r["target"]} for i, r in enumerate(_ANSWERS)]),
        ),
        "sums-label.yaml": _text("sums-label.yaml", _GEN_SPACE.replace('Answer:"', 'Answer: {label}"')),
        "sums-metric.yaml": _text("sums-metric.yaml", _GEN_SPACE + "metric: exact_mach\n"),
        "sums-accuracy.yaml": _text("sums-accuracy.yaml", _GEN_SPACE + "metric: accuracy\n"),
        "sums-tokens.yaml": _text("sums-tokens.yaml", _GEN_SPACE + "generation: {max_new_tokens: 0}\n"),
    }
)
