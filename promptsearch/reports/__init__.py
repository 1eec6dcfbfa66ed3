"""Leaderboard reports: plain records first, then Markdown, JSON, CSV and HTML renderers."""

from promptsearch.reports._records import Leaderboard, LeaderboardRow, leaderboard_markdown, write_leaderboard

__all__ = ["Leaderboard", "LeaderboardRow", "leaderboard_markdown", "write_leaderboard"]
