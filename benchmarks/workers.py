"""Many workers on one study: the same search with 1, 2 and 4 local workers (and 2 on PostgreSQL).

Every run is ``promptsearch search SPACE --workers N`` on the fake backend with a fixed latency
per model call (``backend: {name: fake, options: {latency: ...}}``): the model's time is a sleep,
so the wall times show the coordination overhead and the scaling of the workers, not the
machine's CPU contention. For each run the script prints the wall time, the finished, pruned and
surplus trials, the winner and its test score, and the (prompt, example) pairs the fake model
scored more than once (its ledger: 0 means the shared score cache did its job).

The winner may differ between worker counts: TPE with ``constant_liar`` proposes trials from
the trials finished so far, and with several workers that set depends on timing, so the study
explores other prompts. What must hold in every run is the budget (exactly ``--trials``
finished trials) and no duplicate scoring.

    .venv/bin/python benchmarks/workers.py --trials 60 --latency 0.05
    .venv/bin/python benchmarks/workers.py --postgres postgresql+psycopg2://user:pw@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine import workers as w  # noqa: E402  (the toy data and space of the worker tests)


@dataclass
class Run:
    label: str
    workers: int
    wall_s: float
    finished: int
    pruned: int
    surplus: int
    best_trial: str
    best_dev: float
    winner: str
    origin: str
    test_score: float | None
    duplicates: int
    load: float
    storage: str = ""


def run_search(
    folder: Path, *, workers: int, trials: int, latency: float, storage: str | None, label: str
) -> Run:
    ledger = folder / "ledger.jsonl"
    space = w.write_inputs(folder, trials=trials, latency=latency, ledger=ledger)
    out = folder / "out"
    extra = ["--workers", str(workers), "--study", "bench"]
    if storage is not None:
        extra += ["--storage", storage]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    ((code, _, stderr),) = w.finish([w.start(w.search_command(space, out, *extra))], timeout=3600)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{label} failed (exit {code}):\n{stderr[-3000:]}")
    if storage is None:  # the command's default: SQLite for one process, a journal file for several
        storage = f"journal:{out}/study.log" if workers > 1 else f"sqlite:///{out}/study.db"
    study = w.open_study(storage, "bench")
    finished = w.finished(study)
    board = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    best = board["rows"][0]
    metric = board.get("metric") or "accuracy"
    lines = Counter(ledger.read_text(encoding="utf-8").splitlines()) if ledger.exists() else Counter()
    return Run(
        label=label,
        workers=workers,
        wall_s=wall,
        finished=len(finished),
        pruned=sum(1 for t in finished if t.state.name == "PRUNED" or "pruned_at" in t.user_attrs),
        surplus=sum(1 for t in study.trials if t.user_attrs.get("surplus")),
        best_trial=str(study.best_trial.user_attrs.get("prompt_id", "?"))[:10],
        best_dev=float(study.best_value),
        winner=str(best["prompt_id"])[:10],
        origin=str(best.get("origin", "")),
        test_score=best["test_metrics"].get(metric, best["test_metrics"].get("accuracy")),
        duplicates=sum(n - 1 for n in lines.values() if n > 1),
        load=load,
    )


def reset_postgres(url: str) -> None:
    """Delete the benchmark's study and empty the score cache's tables: every run starts cold."""
    import contextlib

    import optuna
    import sqlalchemy as sa

    from promptsearch.study import make_storage

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name="bench", storage=make_storage(url, None))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("promptsearch_scores", "promptsearch_texts"):
                if sa.inspect(conn).has_table(table):
                    conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def table(runs: list[Run]) -> str:
    """The runs, each with its speed-up over the 1-worker run on the same storage."""
    head = (
        "| run | workers | wall (s) | speed-up | finished | pruned | surplus | best trial (dev) | "
        "winner (origin) | test | scored twice | load |"
    )
    single = {r.storage: r.wall_s for r in runs if r.workers == 1}
    lines = [head, "|" + "---|" * 12]
    for r in runs:
        test = f"{r.test_score:.3f}" if r.test_score is not None else "-"
        speed = f"{single[r.storage] / r.wall_s:.2f}x" if r.storage in single else "-"
        lines.append(
            f"| {r.label} | {r.workers} | {r.wall_s:.1f} | {speed} | {r.finished} | "
            f"{r.pruned} | {r.surplus} | {r.best_trial} ({r.best_dev:.3f}) | {r.winner} ({r.origin}) | "
            f"{test} | {r.duplicates} | {r.load:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the fake model waits per call")
    ap.add_argument("--workers", default="1,2,4", help="worker counts on a local journal file")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("PROMPTSEARCH_TEST_POSTGRES"),
        help="PostgreSQL URL for 1 and 2 workers (default: $PROMPTSEARCH_TEST_POSTGRES; none: skipped)",
    )
    ap.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()

    root = Path(args.out or tempfile.mkdtemp(prefix="ps-workers-"))
    plan: list[tuple[str, int, str | None]] = [("SQLite", 1, None)]  # one process's default storage
    for n in (int(x) for x in args.workers.split(",")):
        plan.append(("journal", n, f"journal:{(root / f'journal-{n}' / 'out' / 'study.log').resolve()}"))
    if args.postgres:
        plan += [("PostgreSQL", 1, args.postgres), ("PostgreSQL", 2, args.postgres)]
    else:
        print(
            "PostgreSQL runs skipped: give --postgres URL or set PROMPTSEARCH_TEST_POSTGRES", file=sys.stderr
        )
    runs: list[Run] = []
    for kind, n, storage in plan:
        label = f"{kind}, {n} worker{'s' if n > 1 else ''}"
        print(f"running {label} ...", file=sys.stderr, flush=True)
        if kind == "PostgreSQL" and storage is not None:
            reset_postgres(storage)
        run = run_search(
            root / f"{kind.lower()}-{n}",
            workers=n,
            trials=args.trials,
            latency=args.latency,
            storage=storage,
            label=label,
        )
        run.storage = kind
        runs.append(run)
    print(f"{args.trials} trials, fake backend with {args.latency} s per call, {os.cpu_count()} cores\n")
    print(table(runs))
    winners = {r.winner for r in runs}
    same = "yes" if len(winners) == 1 else f"no ({len(winners)} winners, see the note)"
    bests = {r.best_trial for r in runs}
    same += f"; same best trial: {'yes' if len(bests) == 1 else f'no ({len(bests)} prompts)'}"
    budget_ok = all(r.finished == args.trials for r in runs)
    print(
        f"\nbudget exact in every run: {'yes' if budget_ok else 'NO'}; "
        f"nothing scored twice: {'yes' if all(r.duplicates == 0 for r in runs) else 'NO'}; "
        f"same winner: {same}"
    )


if __name__ == "__main__":
    main()
