"""Comparison across studies: winners grouped by (task, model), mean and std over split seeds."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError
from promptsearch.metrics import direction_sign
from promptsearch.reports._html import page, prompt_html, table
from promptsearch.reports._io import stored_leaderboard
from promptsearch.reports._markdown import md_cell
from promptsearch.reports._records import Leaderboard, _atomic_write
from promptsearch.reports._svg import esc
from promptsearch.study import is_storage_url, mask_url, open_storage

__all__ = [
    "ComparisonData",
    "ComparisonRow",
    "compare_leaderboards",
    "comparison_html",
    "comparison_markdown",
    "load_leaderboards",
    "write_comparison",
]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComparisonRow:
    """One (task, model, metric) group of winners, one winner per seed.

    Attributes:
        metric: The metric the searches optimized (and the test columns show).
        test_mean, test_std: Mean and sample standard deviation (``ddof=1``) of the winners' test
            metric; ``std`` is ``None`` below two seeds, both are ``None`` without test scores.
        dev_mean, dev_std: The same for the winners' dev scores.
        best_*: The winner with the highest dev score (test is never used to choose).
    """

    task: str
    model: str
    n_seeds: int
    seeds: tuple[int, ...]
    metric: str
    test_mean: float | None
    test_std: float | None
    dev_mean: float
    dev_std: float | None
    best_instruction: str
    best_template: str
    best_verbalizer: str
    best_seed: int
    best_dev: float
    best_test: float | None
    studies: tuple[str, ...]


@dataclass(frozen=True)
class ComparisonData:
    """Rows by (task, model), and where each leaderboard came from."""

    rows: tuple[ComparisonRow, ...]
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _from_storage(url: str) -> list[tuple[str, Leaderboard]]:
    import optuna

    storage = open_storage(url)
    out = []
    for name in optuna.study.get_all_study_names(storage=storage):
        board = stored_leaderboard(optuna.load_study(study_name=name, storage=storage))
        if board is not None:
            out.append((f"{mask_url(url)}#{name}", board))
    return out


def _from_path(source: str) -> list[tuple[str, Leaderboard]]:
    path = Path(source)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = (
            [path / "leaderboard.json"]
            if (path / "leaderboard.json").is_file()
            else sorted(path.rglob("leaderboard.json"))
        )
    else:
        raise ConfigError(
            f"Comparison source {source!r} is neither a folder, a file nor a storage URL; pass run "
            "folders holding leaderboard.json or URLs such as sqlite:///runs/study.db."
        )
    out = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            out.append((str(file), Leaderboard.from_dict(data)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"{str(file)!r} is not a leaderboard ({exc}); pass files written by `promptsearch search`."
            ) from exc
    return out


def load_leaderboards(sources: Sequence[str]) -> list[tuple[str, Leaderboard]]:
    """Leaderboards from run folders (searched recursively), JSON files and storage URLs.

    The same study found twice (e.g. in its folder and its storage) is kept once.

    Raises:
        ConfigError: A source does not exist, or no leaderboard was found at all.
    """
    found: dict[tuple[str, str, int, str], tuple[str, Leaderboard]] = {}
    for source in sources:
        for origin, board in _from_storage(source) if is_storage_url(source) else _from_path(source):
            found.setdefault((board.task, board.model, board.seed, board.study_name), (origin, board))
    if not found:
        raise ConfigError(
            f"No leaderboard found in {', '.join(map(repr, sources))}; run `promptsearch search` "
            "first, or pass folders holding leaderboard.json or storages whose studies stored one."
        )
    return list(found.values())


def compare_leaderboards(sources: Sequence[str]) -> ComparisonData:
    """Compare the winners of several searches, grouped by (task, model).

    Args:
        sources: Run folders (or trees of them) holding ``leaderboard.json``, leaderboard JSON files,
            or Optuna storage URLs whose studies stored their leaderboard.

    Returns:
        One row per (task, model) with mean and std over seeds of the winners' scores.

    Example:
        >>> data = compare_leaderboards(["runs/sst2-tpe", "sqlite:///runs/other.db"])  # doctest: +SKIP
        >>> print(comparison_markdown(data))  # doctest: +SKIP
    """
    boards = load_leaderboards(sources)
    groups: dict[tuple[str, str, str], list[Leaderboard]] = {}
    for _, board in boards:
        if board.rows:
            groups.setdefault((board.task, board.model, board.metric), []).append(board)
        else:
            _logger.warning("Leaderboard of study %r has no rows; left out.", board.study_name)
    rows = []
    for (task, model, metric), members in sorted(groups.items()):
        seeds = [b.seed for b in members]
        if len(set(seeds)) < len(seeds):
            _logger.warning(
                "%s / %s: several studies share a seed (%s); each counts once.", task, model, seeds
            )
        tests = [score for b in members if (score := b.best.test_score) is not None]
        test_mean, test_std = _mean_std(tests)
        dev_mean, dev_std = _mean_std([b.best.dev_score for b in members])
        sign = direction_sign(members[0].direction)
        top = max(members, key=lambda b: (sign * b.best.dev_score, sign * (b.best.test_score or 0.0)))
        rows.append(
            ComparisonRow(
                task=task,
                model=model,
                n_seeds=len(members),
                seeds=tuple(sorted(seeds)),
                metric=metric,
                test_mean=test_mean,
                test_std=test_std,
                dev_mean=dev_mean if dev_mean is not None else float("nan"),
                dev_std=dev_std,
                best_instruction=top.best.instruction,
                best_template=top.best.template,
                best_verbalizer=top.best.verbalizer,
                best_seed=top.seed,
                best_dev=top.best.dev_score,
                best_test=top.best.test_score,
                studies=tuple(b.study_name for b in members),
            )
        )
    return ComparisonData(tuple(rows), tuple(origin for origin, _ in boards))


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


def _md(text: str) -> str:
    return md_cell(text)


def comparison_markdown(data: ComparisonData) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "# Comparison of prompt searches",
        "",
        "Winners grouped by task and model; mean ± sample std over split seeds. The best prompt is the "
        "winner with the highest dev score.",
        "",
        "| task | model | seeds | metric | test | dev | best prompt | verbalizer | best seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data.rows:
        prompt = f"{r.best_instruction}\n{r.best_template}" if r.best_instruction else r.best_template
        lines.append(
            f"| {_md(r.task)} | {_md(r.model)} | {r.n_seeds} ({', '.join(map(str, r.seeds))}) | "
            f"{_md(r.metric)} | {_pm(r.test_mean, r.test_std)} | {_pm(r.dev_mean, r.dev_std)} | "
            f"{_md(prompt)} | "
            f"{_md(r.best_verbalizer)} | {r.best_seed} |"
        )
    lines += ["", f"Sources: {', '.join(data.sources)}"]
    return "\n".join(lines) + "\n"


def comparison_html(data: ComparisonData) -> str:
    """The comparison as a self-contained HTML page (table ``id="comparison-table"``)."""
    rows = []
    for r in data.rows:
        rows.append(
            [
                f"<td>{esc(r.task)}</td>",
                f"<td>{esc(r.model)}</td>",
                f'<td class="num">{r.n_seeds} ({esc(", ".join(map(str, r.seeds)))})</td>',
                f"<td>{esc(r.metric)}</td>",
                f'<td class="num">{esc(_pm(r.test_mean, r.test_std))}</td>',
                f'<td class="num">{esc(_pm(r.dev_mean, r.dev_std))}</td>',
                f"<td>{prompt_html(r.best_instruction, r.best_template)}</td>",
                f"<td>{esc(r.best_verbalizer)}</td>",
                f'<td class="num">{r.best_seed}</td>',
            ]
        )
    body = [
        "<h1>Comparison of prompt searches</h1>",
        '<p class="muted">Winners grouped by task and model; mean ± sample std over split seeds. The best '
        "prompt is the winner with the highest dev score (test is never used to choose).</p>",
        '<section id="comparison">',
        table(
            [
                "task",
                "model",
                "seeds",
                "metric",
                "test",
                "dev",
                "best prompt",
                "verbalizer",
                "best seed",
            ],
            rows,
            table_id="comparison-table",
        ),
        "</section>",
        '<section id="sources"><h2>Sources</h2><ul>',
        *(f"<li><code>{esc(s)}</code></li>" for s in data.sources),
        "</ul></section>",
    ]
    return page("Comparison of prompt searches", body)


def write_comparison(data: ComparisonData, out_dir: str | Path) -> dict[str, Path]:
    """Write ``comparison.md``, ``comparison.html`` and ``comparison.json``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "comparison.md", "html": out / "comparison.html", "json": out / "comparison.json"}
    _atomic_write(paths["md"], comparison_markdown(data))
    _atomic_write(paths["html"], comparison_html(data))
    _atomic_write(paths["json"], json.dumps(data.to_dict(), ensure_ascii=False, indent=2))
    return paths
