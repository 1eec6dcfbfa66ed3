"""Winners on imbalanced data: does the searched prompt hold against the user's own template?

Builds imbalanced classification files from packaged corpora, as a user would bring them (a CSV
of ``text,label``), and runs the README's user path on each: ``promptsearch search
search_spaces/generic-classification.yaml --task FILE`` (the split of the user's data: dev and
confirmation at the data's class shares), one search per seed. Every search's test examples are
the file's fixed test set (the data's own balance, never seen by the search); the baseline is
the user's obvious template ``Text: {text}\\nLabel:{label}`` with the label names (the space's
first seed, which the leaderboard always evaluates). Accuracy and macro-F1 are reported for
both, per seed, with the difference.

    python benchmarks/imbalanced.py                       # every file, 5 seeds, 40 trials
    python benchmarks/imbalanced.py --files rt-85-15 --seeds 13 --trials 20   # one quick run

Files (texts cut to their first 60 words; the subsample is drawn once with seed 0):
  * ``bbc-60-15-10-10-5``: BBC News topics at 60/15/10/10/5 (business, entertainment, politics,
    sport, tech);
  * ``rt-85-15``: Rotten Tomatoes critic snippets, 85% fresh / 15% rotten;
  * ``movies5-5-15-45-25-10``: the 5-class movie sentences at 5/15/45/25/10 (very negative to
    very positive: most ratings in the middle);
  * ``rt-subjectivity-natural``: critic snippets vs plot summaries at their own shares (92/8).

(A multi-class BIG-bench task was the first choice for a natural multi-class balance, but the
pinned ``bigbench==1.0.0`` sdist is not on the package registry this project can reach.)

Results are appended to ``<out>/results.jsonl`` as each search ends (a crash loses nothing) and
a Markdown table is printed at the end (``--table`` prints it from the file alone). A file and
seed already in the results are skipped; ``--redo`` runs them again (the stored study resumes
with no trial left, so only the final evaluation and the winner rule run, on cached scores:
how a stored search is decided again after the rule changed). The table keeps the last result
of each file and seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptsearch.engine import PromptSearch
from promptsearch.space import load_search_space
from promptsearch.tasks import load_task

SPACE = Path(__file__).resolve().parent.parent / "search_spaces" / "generic-classification.yaml"
FILES = {
    "bbc-60-15-10-10-5": (
        "bbc-news",
        {"business": 0.60, "entertainment": 0.15, "politics": 0.10, "sport": 0.10, "tech": 0.05},
    ),
    "rt-85-15": ("rt-fresh-rotten", {"fresh": 0.85, "rotten": 0.15}),
    "movies5-5-15-45-25-10": (
        "movies-5",
        {"very negative": 0.05, "negative": 0.15, "neutral": 0.45, "positive": 0.25, "very positive": 0.10},
    ),
    "rt-subjectivity-natural": ("rt-subjectivity", None),
}
MAX_WORDS = 60
TEST = 300


def build_file(name: str, folder: Path) -> Path:
    """Write ``name``'s CSV (once) and return its path."""
    path = folder / f"{name}.csv"
    if path.exists():
        return path
    source, shares = FILES[name]
    task = load_task(source)
    rng = np.random.default_rng(0)
    by_label: dict[str, list[str]] = {lab: [] for lab in task.label_names}
    for ex in task.examples:
        by_label[ex.label].append(" ".join(ex.inputs["text"].split()[:MAX_WORDS]))
    if shares is not None:  # as many as the scarcest class (relative to its share) allows
        total = min(int(len(by_label[lab]) / s) for lab, s in shares.items())
        total = min(total, 2500)
        counts = {lab: round(total * s) for lab, s in shares.items()}
    else:
        counts = {lab: len(v) for lab, v in by_label.items()}
        scale = min(1.0, 2500 / sum(counts.values()))
        counts = {lab: round(n * scale) for lab, n in counts.items()}
    rows = []
    for lab, n in counts.items():
        texts = by_label[lab]
        for i in rng.choice(len(texts), size=n, replace=False):
            rows.append((texts[int(i)], lab))
    rng.shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def run_one(name: str, path: Path, seed: int, trials: int, out: Path) -> dict[str, object]:
    """One search on the file; the winner's and the template's test metrics."""
    space = load_search_space(SPACE)
    started = time.perf_counter()
    search = PromptSearch(
        space,
        task=str(path),
        seed=seed,
        n_trials=trials,
        out_dir=out / name / f"seed{seed}",
        test_limit=TEST,
        dtype="fast",  # bfloat16 where the CPU computes it natively, else float32
    ).fit()
    board = search.leaderboard_
    best = board.best
    base = next((r for r in board.rows if r.origin == "baseline"), best)
    sel = board.metadata.get("selection", {})
    confirmation = sel.get("confirmation") or {}
    return {
        "file": name,
        "seed": seed,
        "trials": trials,
        "seconds": round(time.perf_counter() - started, 1),
        "test_n": best.test_n,
        "classes": dict(Counter(e.label for e in search.split_.test[:TEST])),
        "template": {"accuracy": base.test_metrics["accuracy"], "macro_f1": base.test_metrics["macro_f1"]},
        "winner": {"accuracy": best.test_metrics["accuracy"], "macro_f1": best.test_metrics["macro_f1"]},
        "winner_is_template": best.origin == "baseline",
        "winner_prompt": {
            "template": best.template,
            "instruction": best.instruction,
            "verbalizer": best.verbalizer,
            "calibrate": best.calibrate,
            "n_demos": best.n_demos,
        },
        "reason": sel.get("winner", ""),
        "confirmation_passed": confirmation.get("passed"),
        "selection_n": sel.get("n"),
        "strategy": sel.get("strategy"),
    }


def table(results: list[dict[str, object]]) -> str:
    """Markdown: per file, per seed, the template's and the winner's test metrics."""
    lines: list[str] = []
    for name in dict.fromkeys(str(r["file"]) for r in results):
        rs = sorted((r for r in results if r["file"] == name), key=lambda r: int(str(r["seed"])))
        classes = rs[0]["classes"]
        assert isinstance(classes, dict)
        total = sum(classes.values())
        shares = ", ".join(
            f"{k} {100 * v / total:.0f}%" for k, v in sorted(classes.items(), key=lambda kv: -kv[1])
        )
        lines += [
            f"### {name} (test: {total} examples, {shares})",
            "",
            "| seed | template acc | template macro-F1 | winner acc | winner macro-F1 | Δ acc | Δ macro-F1 "
            "| winner |",
            "|---|---|---|---|---|---|---|---|",
        ]
        deltas: dict[str, list[float]] = {"accuracy": [], "macro_f1": []}
        cols: dict[str, list[float]] = {"ta": [], "tf": [], "wa": [], "wf": []}
        for r in rs:
            t, w = r["template"], r["winner"]
            assert isinstance(t, dict) and isinstance(w, dict)
            da, df = 100 * (w["accuracy"] - t["accuracy"]), 100 * (w["macro_f1"] - t["macro_f1"])
            deltas["accuracy"].append(da)
            deltas["macro_f1"].append(df)
            for key, value in zip(cols, (t["accuracy"], t["macro_f1"], w["accuracy"], w["macro_f1"])):
                cols[key].append(100 * value)
            wp = r["winner_prompt"]
            assert isinstance(wp, dict)
            what = (
                "your template"
                if r["winner_is_template"]
                else f"`{wp['template']!r}` words {wp['verbalizer'] or '-'}, {wp['n_demos']} demos"
                + (", calibrated" if wp["calibrate"] else "")
            )
            lines.append(
                f"| {r['seed']} | {100 * t['accuracy']:.1f} | {100 * t['macro_f1']:.1f} "
                f"| {100 * w['accuracy']:.1f} | {100 * w['macro_f1']:.1f} | {da:+.1f} | {df:+.1f} | {what} |"
            )

        def ms(values: list[float]) -> str:
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.1f} ({sd:.1f})"

        lines.append(
            f"| mean (std) | {ms(cols['ta'])} | {ms(cols['tf'])} | {ms(cols['wa'])} | {ms(cols['wf'])} "
            f"| {ms(deltas['accuracy'])} | {ms(deltas['macro_f1'])} | |"
        )
        worst = min(min(deltas["accuracy"]), min(deltas["macro_f1"]))
        lines += [
            "",
            f"Worst seed difference (winner - template, either metric): {worst:+.1f} points; "
            f"bar (never below -1.0): {'met' if worst >= -1.0 else 'NOT met'}.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", default=",".join(FILES), help="comma-separated file names")
    parser.add_argument("--seeds", default="13,21,42,87,100")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--out", default="runs/imbalanced")
    parser.add_argument("--table", action="store_true", help="print the table of the results file and stop")
    parser.add_argument("--redo", action="store_true", help="run again what is in the results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    results_file = out / "results.jsonl"
    if not args.table:
        out.mkdir(parents=True, exist_ok=True)
        done = {(str(r["file"]), int(str(r["seed"]))) for r in _read(results_file)}
        for name in args.files.split(","):
            path = build_file(name, out / "data")
            for seed in (int(s) for s in args.seeds.split(",")):
                if (name, seed) in done and not args.redo:
                    logging.warning("%s seed %d is done: skipped (--redo runs it again)", name, seed)
                    continue
                result = run_one(name, path, seed, args.trials, out)
                with results_file.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(result) + "\n")
                print(json.dumps(result), flush=True)
    last = {(r["file"], r["seed"]): r for r in _read(results_file)}  # the last result of each run
    print(table(list(last.values())))


def _read(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


if __name__ == "__main__":
    main()
