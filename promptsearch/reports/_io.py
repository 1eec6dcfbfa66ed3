"""Storing leaderboards in studies, opening storages read-side, and writing the report files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from promptsearch.exceptions import ConfigError
from promptsearch.reports._records import Leaderboard, _atomic_write, write_leaderboard
from promptsearch.study import StudyAttr

if TYPE_CHECKING:
    import optuna

__all__ = ["LEADERBOARD_ATTR", "store_leaderboard", "stored_leaderboard", "write_report"]

#: Study user attribute holding the search's leaderboard as JSON.
LEADERBOARD_ATTR = StudyAttr.LEADERBOARD


def store_leaderboard(study: optuna.Study, leaderboard: Leaderboard) -> None:
    """Keep ``leaderboard`` in the study (user attribute ``"leaderboard"``, JSON).

    Reports and comparisons can then be made from the storage alone.

    Example:
        >>> store_leaderboard(search.study_, search.leaderboard_)  # doctest: +SKIP
    """
    study.set_user_attr(LEADERBOARD_ATTR, json.dumps(leaderboard.to_dict(), ensure_ascii=False))


def stored_leaderboard(study: optuna.Study) -> Leaderboard | None:
    """The leaderboard kept by :func:`store_leaderboard`, or ``None``."""
    raw = study.user_attrs.get(LEADERBOARD_ATTR)
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ConfigError(
            f"Study {study.study_name!r} holds a malformed leaderboard; run `promptsearch search` "
            "again to store a new one."
        )
    return Leaderboard.from_dict(data)


def write_report(study: optuna.Study, leaderboard: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md/json/csv`` and the self-contained ``report.html``.

    Args:
        study: The search's study.
        leaderboard: Its leaderboard.
        out_dir: Folder to write into (created if needed).

    Returns:
        Paths by kind: ``md``, ``json``, ``csv`` and ``html``.

    Example:
        >>> paths = write_report(search.study_, search.leaderboard_, "runs/sst2")  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['csv', 'html', 'json', 'md']
    """
    from promptsearch.reports._data import build_report_data
    from promptsearch.reports._html import render_html

    paths = write_leaderboard(leaderboard, out_dir)
    html_path = Path(out_dir) / "report.html"
    _atomic_write(html_path, render_html(build_report_data(study, leaderboard)))
    return {**paths, "html": html_path}
