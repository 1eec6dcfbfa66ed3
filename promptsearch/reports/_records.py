"""Plain leaderboard records, built first; renderers (Markdown, JSON, CSV, HTML) draw them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from promptsearch.metrics import ACCURACY, MACRO_F1
from promptsearch.reports._markdown import md_cell, md_text
from promptsearch.tuning import NO_TUNING

__all__ = ["Leaderboard", "LeaderboardRow", "leaderboard_markdown", "write_leaderboard"]


@dataclass(frozen=True)
class LeaderboardRow:
    """One prompt on the leaderboard.

    Attributes:
        rank: 1 is the winner (chosen on the selection examples, never on test).
        dev_score: The optimized metric (:attr:`metric`) on the selection examples (train and
            dev with demonstrations leave-one-out, or dev; tuned prompts: dev), ``dev_n`` of them.
        metric: Name of the optimized metric.
        test_metrics: Every metric of the task's prediction kind on the test set.
        test_ci_low, test_ci_high: 95% bootstrap interval of :attr:`metric` on test.
        test_intervals: Every test metric's 95% bootstrap interval ``(low, high)``.
        evaluations: Example scorings (forward passes) spent on this prompt during the search.
        origin, parents, generation: How the prompt's candidate was produced.
        examples: A few dev examples with the winner's outputs (generation tasks).
        gain, gain_low, gain_high, gain_p: Paired bootstrap gain over the baseline (your
            template, zero-shot) on the selection examples, its interval at the selection
            level, and the one-sided p-value (``None`` for the baseline itself).
    """

    rank: int
    prompt_id: str
    candidate_id: str
    instruction: str
    template: str
    verbalizer: str
    n_demos: int
    demo_selection: str
    calibrate: bool
    dev_score: float
    dev_n: int
    metric: str = ACCURACY
    test_metrics: Mapping[str, float] = field(default_factory=dict)
    test_ci_low: float | None = None
    test_ci_high: float | None = None
    test_intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    test_n: int = 0
    evaluations: int = 0
    trial: int = -1
    generation: int = 0
    origin: str = "seed"
    parents: tuple[str, ...] = ()
    tuning: str = NO_TUNING
    prompt: dict[str, Any] = field(default_factory=dict, repr=False)
    labels: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = field(default=(), repr=False)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    examples: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    gain: float | None = None
    gain_low: float | None = None
    gain_high: float | None = None
    gain_p: float | None = None

    @property
    def test_score(self) -> float | None:
        """The optimized metric on test (``None`` without a test evaluation)."""
        return self.test_metrics.get(self.metric)

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy, where the task's predictions have one."""
        return self.test_metrics.get(ACCURACY)

    @property
    def test_macro_f1(self) -> float | None:
        """Test macro-F1, where the task's predictions have one."""
        return self.test_metrics.get(MACRO_F1)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["test_metrics"] = dict(self.test_metrics)
        out["test_intervals"] = {k: [float(lo), float(hi)] for k, (lo, hi) in self.test_intervals.items()}
        out["parents"] = list(self.parents)
        out["labels"] = list(self.labels)
        out["confusion"] = [list(r) for r in self.confusion]
        out["examples"] = [dict(e) for e in self.examples]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeaderboardRow:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "test_metrics" not in data:  # Leaderboards written before metrics were objects.
            old = {ACCURACY: data.get("test_accuracy"), MACRO_F1: data.get("test_macro_f1")}
            kwargs["test_metrics"] = {k: v for k, v in old.items() if v is not None}
        kwargs["test_intervals"] = {
            k: (float(v[0]), float(v[1])) for k, v in kwargs.get("test_intervals", {}).items()
        }
        kwargs["parents"] = tuple(kwargs.get("parents", ()))
        kwargs["labels"] = tuple(kwargs.get("labels", ()))
        kwargs["confusion"] = tuple(tuple(r) for r in kwargs.get("confusion", ()))
        kwargs["examples"] = tuple(kwargs.get("examples", ()))
        return cls(**kwargs)


@dataclass(frozen=True)
class Leaderboard:
    """A search's result: its rows and what it cost.

    Attributes:
        metric: The optimized metric; ``direction`` says whether higher is better.
    """

    task: str
    model: str
    seed: int
    study_name: str
    rows: tuple[LeaderboardRow, ...]
    metric: str = ACCURACY
    direction: str = "maximize"
    n_trials: int = 0
    n_pruned: int = 0
    forward_passes: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> LeaderboardRow:
        return self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = [r.to_dict() for r in self.rows]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Leaderboard:
        rows = tuple(LeaderboardRow.from_dict(r) for r in data.get("rows", []))
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known and k != "rows"}
        return cls(rows=rows, **kwargs)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return md_cell(str(value))


def _columns(board: Leaderboard, rows: tuple[LeaderboardRow, ...]) -> list[tuple[str, Any]]:
    """(header, cell function) of the Markdown table; columns that say nothing are left out."""
    label_words = any(r.verbalizer for r in rows)
    cols: list[tuple[str, Any]] = [
        ("rank", lambda r: r.rank),
        ("instruction", lambda r: r.instruction or ""),
        ("template", lambda r: r.template),
    ]
    if label_words:
        cols.append(("verbalizer", lambda r: r.verbalizer))
    cols.append(("n_demos", lambda r: f"{r.n_demos} ({r.demo_selection})" if r.n_demos else "0"))
    if label_words:
        cols.append(("calibrate", lambda r: "yes" if r.calibrate else "no"))
    cols += [
        ("dev_score", lambda r: r.dev_score),
        (f"test_{board.metric}", lambda r: r.test_score),
        (
            "test_ci",
            lambda r: "–" if r.test_ci_low is None else f"[{r.test_ci_low:.3f}, {r.test_ci_high:.3f}]",
        ),
    ]
    if any(r.gain is not None for r in rows):
        cols.append(("gain_vs_baseline", _gain_cell))
    cols += [
        ("evaluations", lambda r: r.evaluations),
        ("origin", lambda r: r.origin),
    ]
    if any(r.tuning != NO_TUNING for r in rows):  # The column shows only when a row was tuned.
        cols.append(("tuning", lambda r: r.tuning))
    return cols


def _gain_cell(r: LeaderboardRow) -> str:
    if r.gain is None:
        return "–"
    return f"{r.gain:+.3f} [{r.gain_low:+.3f}, {r.gain_high:+.3f}] p={r.gain_p:.2f}"


def selection_sentence(board: Leaderboard) -> str:
    """How the winner was chosen, in a sentence (for reports)."""
    better = "" if board.direction == "maximize" else " (lower is better)"
    sel = board.metadata.get("selection")
    if not sel:
        return f"Ranked by {board.metric}{better} on the full dev set."
    where = "train and dev, demonstrations leave-one-out" if sel.get("examples") == "all" else "the dev set"
    text = f"Ranked by {board.metric}{better} on {sel.get('n')} labelled examples ({where})"
    text += (f", {_balance_words(sel)}" if sel.get("objective") else "") + "."
    if sel.get("winner"):
        text += f" Winner: {sel['winner']}."
    confirmation = sel.get("confirmation")
    if confirmation:
        gains = "; ".join(
            f"{name} {g['gain']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"
            for name, g in confirmation.get("gains", {}).items()
        )
        verdict = "passed" if confirmation.get("passed") else "failed, your template kept"
        text += (
            f" Confirmation against your template on {confirmation.get('n')} examples no fitting or "
            f"selection saw (gain, 90% interval): {gains}: {verdict}."
        )
    return text


def _balance_words(sel: dict[str, Any]) -> str:
    """``estimating ... (data's class shares ...; selection examples' ...)``."""
    text = f"estimating {sel['objective']}"
    data, chosen = sel.get("data_shares"), sel.get("selection_shares")
    if data and chosen:
        text += (
            "; class shares in your data "
            + ", ".join(f"{k} {v:.2f}" for k, v in data.items())
            + ", among the selection examples "
            + ", ".join(f"{k} {v:.2f}" for k, v in chosen.items())
        )
    return text


def leaderboard_markdown(board: Leaderboard, *, top: int | None = None) -> str:
    """Render the leaderboard as a Markdown table with a short header."""
    rows = board.rows[:top] if top else board.rows
    columns = _columns(board, rows)
    lines = [
        f"# Leaderboard: {md_text(board.task)} / {md_text(board.model)} / seed {board.seed}",
        "",
        f"{board.n_trials} trials ({board.n_pruned} pruned), {board.forward_passes} example forward "
        f"passes, {board.cache_hits} cache hits, {board.seconds:.0f} s. "
        f"{md_text(selection_sentence(board))} Test shown with a 95% bootstrap interval; "
        "gain_vs_baseline: paired bootstrap on the selection examples.",
        "",
        "| " + " | ".join(name for name, _ in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(cell(r)) for _, cell in columns) + " |" for r in rows]
    phases = board.metadata.get("phases")
    if phases:
        lines += ["", "Time per phase of this run: " + phases_sentence(phases) + "."]
    return "\n".join(lines) + "\n"


#: Phase name -> words, in the order phases run.
PHASES = {
    "model_load": "model load",
    "label_words": "label-word search",
    "trials": "trials",
    "final": "final evaluation",
}


def phases_sentence(phases: dict[str, float]) -> str:
    """``model load 3 s, label-word search 1 s, trials 52 s, final evaluation 20 s``."""
    known = [(PHASES[k], phases[k]) for k in PHASES if k in phases]
    known += [(k, v) for k, v in phases.items() if k not in PHASES]
    return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in known)


def leaderboard_csv(board: Leaderboard) -> str:
    """Render all rows as CSV: one column per record field (the prompt and dicts as JSON), plus
    one ``test_<metric>`` column per metric."""
    buf = io.StringIO()
    metric_names = sorted({name for row in board.rows for name in row.test_metrics})
    names = [f.name for f in fields(LeaderboardRow)] + [f"test_{m}" for m in metric_names]
    writer = csv.DictWriter(buf, fieldnames=names)
    writer.writeheader()
    for row in board.rows:
        d = row.to_dict()
        d["parents"] = " ".join(row.parents)
        d["prompt"] = json.dumps(row.prompt, ensure_ascii=False)
        d["labels"] = " ".join(row.labels)
        d["confusion"] = json.dumps(d["confusion"])
        d["per_class"] = json.dumps(row.per_class)
        d["test_metrics"] = json.dumps(d["test_metrics"])
        d["test_intervals"] = json.dumps(d["test_intervals"])
        d["examples"] = json.dumps(d["examples"], ensure_ascii=False)
        d.update({f"test_{m}": row.test_metrics.get(m) for m in metric_names})
        writer.writerow(d)
    return buf.getvalue()


def write_leaderboard(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``leaderboard.json`` and ``leaderboard.csv``; return their paths.

    ``leaderboard.md`` is :func:`leaderboard_markdown`'s table, then for generation tasks a short
    table of the winner's outputs on the first dev examples.
    """
    from promptsearch.reports._examples import outputs_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": out / "leaderboard.md",
        "json": out / "leaderboard.json",
        "csv": out / "leaderboard.csv",
    }
    _atomic_write(
        paths["md"], "\n".join([leaderboard_markdown(board).rstrip("\n"), *outputs_markdown(board)]) + "\n"
    )
    _atomic_write(paths["json"], json.dumps(board.to_dict(), ensure_ascii=False, indent=2))
    _atomic_write(paths["csv"], leaderboard_csv(board))
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
