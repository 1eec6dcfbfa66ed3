"""Plain leaderboard records, built first; renderers (Markdown, JSON, CSV, HTML) draw them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["Leaderboard", "LeaderboardRow", "leaderboard_markdown", "write_leaderboard"]


@dataclass(frozen=True)
class LeaderboardRow:
    """One prompt on the leaderboard.

    Attributes:
        rank: 1 is the winner (chosen on the full dev set, never on test).
        dev_score: The search objective on the full dev set (accuracy).
        test_accuracy, test_ci_low, test_ci_high: Held-out accuracy and its 95% bootstrap interval.
        evaluations: Example scorings (forward passes) spent on this prompt during the search.
        origin, parents, generation: How the prompt's candidate was produced.
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
    test_accuracy: float | None = None
    test_macro_f1: float | None = None
    test_ci_low: float | None = None
    test_ci_high: float | None = None
    test_n: int = 0
    evaluations: int = 0
    trial: int = -1
    generation: int = 0
    origin: str = "seed"
    parents: tuple[str, ...] = ()
    tuning: str = "none"
    prompt: dict[str, Any] = field(default_factory=dict, repr=False)
    labels: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = field(default=(), repr=False)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["parents"] = list(self.parents)
        out["labels"] = list(self.labels)
        out["confusion"] = [list(r) for r in self.confusion]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeaderboardRow:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["parents"] = tuple(kwargs.get("parents", ()))
        kwargs["labels"] = tuple(kwargs.get("labels", ()))
        kwargs["confusion"] = tuple(tuple(r) for r in kwargs.get("confusion", ()))
        return cls(**kwargs)


@dataclass(frozen=True)
class Leaderboard:
    """A search's result: its rows and what it cost."""

    task: str
    model: str
    seed: int
    study_name: str
    rows: tuple[LeaderboardRow, ...]
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


_COLUMNS = (
    "rank",
    "instruction",
    "template",
    "verbalizer",
    "n_demos",
    "calibrate",
    "dev_score",
    "test_accuracy",
    "test_ci",
    "evaluations",
    "origin",
)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("\n", "\\n").replace("|", "\\|")


def _row_cells(row: LeaderboardRow, *, tuning: bool = False) -> list[str]:
    ci = "–" if row.test_ci_low is None else f"[{row.test_ci_low:.3f}, {row.test_ci_high:.3f}]"
    demos = f"{row.n_demos} ({row.demo_selection})" if row.n_demos else "0"
    values = [
        row.rank,
        row.instruction or "",
        row.template,
        row.verbalizer,
        demos,
        "yes" if row.calibrate else "no",
        row.dev_score,
        row.test_accuracy,
        ci,
        row.evaluations,
        row.origin,
    ]
    if tuning:
        values.append(row.tuning)
    return [_cell(v) for v in values]


def leaderboard_markdown(board: Leaderboard, *, top: int | None = None) -> str:
    """Render the leaderboard as a Markdown table with a short header."""
    rows = board.rows[:top] if top else board.rows
    tuning = any(r.tuning != "none" for r in rows)  # The column shows only when a row was tuned.
    columns = (*_COLUMNS, "tuning") if tuning else _COLUMNS
    lines = [
        f"# Leaderboard: {board.task} / {board.model} / seed {board.seed}",
        "",
        f"{board.n_trials} trials ({board.n_pruned} pruned), {board.forward_passes} example forward "
        f"passes, {board.cache_hits} cache hits, {board.seconds:.0f} s. Ranked on the full dev set; "
        "test shown with a 95% bootstrap interval.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_row_cells(r, tuning=tuning)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def leaderboard_csv(board: Leaderboard) -> str:
    """Render all rows as CSV (one column per record field; the prompt as JSON)."""
    buf = io.StringIO()
    names = [f.name for f in fields(LeaderboardRow)]
    writer = csv.DictWriter(buf, fieldnames=names)
    writer.writeheader()
    for row in board.rows:
        d = row.to_dict()
        d["parents"] = " ".join(row.parents)
        d["prompt"] = json.dumps(row.prompt, ensure_ascii=False)
        d["labels"] = " ".join(row.labels)
        d["confusion"] = json.dumps(d["confusion"])
        d["per_class"] = json.dumps(row.per_class)
        writer.writerow(d)
    return buf.getvalue()


def write_leaderboard(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``leaderboard.json`` and ``leaderboard.csv``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": out / "leaderboard.md",
        "json": out / "leaderboard.json",
        "csv": out / "leaderboard.csv",
    }
    _atomic_write(paths["md"], leaderboard_markdown(board))
    _atomic_write(paths["json"], json.dumps(board.to_dict(), ensure_ascii=False, indent=2))
    _atomic_write(paths["csv"], leaderboard_csv(board))
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
