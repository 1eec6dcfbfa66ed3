"""Leaderboard reports: plain records first, then Markdown, JSON, CSV and HTML renderers."""

from promptsearch.reports._compare import (
    ComparisonData,
    ComparisonRow,
    compare_leaderboards,
    comparison_html,
    comparison_markdown,
    write_comparison,
)
from promptsearch.reports._data import (
    ClassReport,
    GroupStats,
    HistoryPoint,
    Importances,
    LengthPoint,
    ReportData,
    build_report_data,
)
from promptsearch.reports._html import render_html
from promptsearch.reports._io import store_leaderboard, stored_leaderboard, write_report
from promptsearch.reports._lineage import Lineage, LineageNode
from promptsearch.reports._records import Leaderboard, LeaderboardRow, leaderboard_markdown, write_leaderboard

__all__ = [
    "ClassReport",
    "ComparisonData",
    "ComparisonRow",
    "GroupStats",
    "HistoryPoint",
    "Importances",
    "Leaderboard",
    "LeaderboardRow",
    "LengthPoint",
    "Lineage",
    "LineageNode",
    "ReportData",
    "build_report_data",
    "compare_leaderboards",
    "comparison_html",
    "comparison_markdown",
    "leaderboard_markdown",
    "render_html",
    "store_leaderboard",
    "stored_leaderboard",
    "write_comparison",
    "write_leaderboard",
    "write_report",
]
