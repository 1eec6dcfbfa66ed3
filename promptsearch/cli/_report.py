"""``promptsearch report``: an HTML report of one study, or a comparison of several searches."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from promptsearch.cli._common import check_folder
from promptsearch.exceptions import ConfigError

if TYPE_CHECKING:
    from promptsearch.reports import Leaderboard

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report of a search, or compare several searches",
        description="With --storage: write leaderboard.md/json/csv and a self-contained report.html for one "
        "study. With --compare: group the winners of several searches by task and model and write "
        "comparison.md and comparison.html.",
    )
    p.add_argument(
        "--storage", default=None, help="Optuna storage URL of the search, e.g. sqlite:///runs/x/study.db"
    )
    p.add_argument("--study", default=None, help="study name (default: the storage's only study)")
    p.add_argument(
        "--compare",
        nargs="+",
        default=None,
        metavar="SRC",
        help="run folders (searched recursively for leaderboard.json), leaderboard files or storage URLs",
    )
    p.add_argument(
        "--out", default=None, help="output folder (default for --storage sqlite:///DIR/study.db: DIR)"
    )
    p.set_defaults(handler=run)


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    url = args.storage or ""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent
    raise ConfigError("Pass --out DIR: the folder to write the report files into.")


def _pick_study(storage: object, requested: str | None, url: str) -> str:
    import optuna

    from promptsearch.study import mask_url

    url = mask_url(url)
    names = optuna.study.get_all_study_names(storage=storage)  # type: ignore[arg-type]
    if requested is not None:
        if requested not in names:
            listed = ", ".join(names) or "none"
            raise ConfigError(
                f"Storage {url!r} has no study {requested!r}; its studies: {listed}. "
                "Pass one of them with --study."
            )
        return requested
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(f"Storage {url!r} holds no study; run `promptsearch search` first.")
    raise ConfigError(
        f"Storage {url!r} holds {len(names)} studies ({', '.join(names)}); choose one with --study."
    )


def _leaderboard(study: object, name: str, out: Path) -> Leaderboard:
    from promptsearch.reports import Leaderboard, stored_leaderboard

    board = stored_leaderboard(study)  # type: ignore[arg-type]
    if board is not None:
        return board
    path = out / "leaderboard.json"
    if path.is_file():
        try:
            return Leaderboard.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"{str(path)!r} is not a leaderboard ({exc}); run `promptsearch search` again."
            ) from exc
    raise ConfigError(
        f"Study {name!r} has no stored leaderboard and {str(path)!r} does not exist; run "
        "`promptsearch search` first (it writes both), or pass --out pointing at the search's folder."
    )


def _report(args: argparse.Namespace) -> int:
    import optuna

    from promptsearch.reports import write_report
    from promptsearch.study import open_storage

    out = _out_dir(args)
    check_folder(out, "--out")
    storage = open_storage(args.storage)
    name = _pick_study(storage, args.study, args.storage)
    study = optuna.load_study(study_name=name, storage=storage)
    paths = write_report(study, _leaderboard(study, name, out), out)
    sys.stdout.write("Wrote " + ", ".join(str(p) for p in paths.values()) + "\n")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from promptsearch.reports import compare_leaderboards, comparison_markdown, write_comparison

    if not args.out:
        raise ConfigError("Pass --out DIR: the folder to write comparison.md and comparison.html into.")
    check_folder(args.out, "--out")
    data = compare_leaderboards(args.compare)
    paths = write_comparison(data, args.out)
    sys.stdout.write(comparison_markdown(data))
    sys.stdout.write("\nWrote " + ", ".join(str(p) for p in paths.values()) + "\n")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.compare and (args.storage or args.study):
        raise ConfigError("Use either --compare SRC ... or --storage URL [--study NAME], not both.")
    if args.compare:
        return _compare(args)
    if not args.storage:
        raise ConfigError(
            "Pass --storage URL (e.g. sqlite:///runs/sst2/study.db) to report on a search, or "
            "--compare SRC [SRC ...] to compare searches."
        )
    return _report(args)
