"""Few-shot table rows for soft prompts and prompt-based tuning (LM-BFF protocol).

For every seed split it takes the best manual prompt on dev (the protocol's "best manual"
row: every seed template of the space x every verbalizer candidate), then trains, from that
prompt, on the split's train examples with early stopping on dev:
  * prompt tuning (8 soft tokens, PEFT-initialised from text, AdamW),
  * BBT (CMA-ES over a random projection into the soft prompt; no gradients),
  * LoRA prompt-based fine-tuning (verbalizer objective),
and reports test accuracy mean (std) over seeds, seconds per training step and peak memory.

    python benchmarks/tuning_table.py --seeds 13,21,42,87,100 --test-limit 500

``--steps N`` overrides the training length of every method (a smoke run): optimizer steps for
prompt tuning, CMA-ES generations for BBT, epochs for LoRA and full fine-tuning.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from promptsearch.backends import hf_backend
from promptsearch.engine import DevObjective
from promptsearch.evaluation import evaluate_prompt
from promptsearch.metrics import get_metric
from promptsearch.models import load_model
from promptsearch.protocol import BEST_MANUAL

# The protocol's "best manual" candidates (every seed template x verbalizer candidate); no
# public name exposes them.
from promptsearch.protocol._protocol import _manual_prompts
from promptsearch.search import SQLiteScoreCache, load_search_space
from promptsearch.tasks import few_shot_split, load_task
from promptsearch.tuning import (
    BBTConfig,
    FinetuneConfig,
    SoftPromptConfig,
    finetune,
    train_bbt,
    train_soft_prompt,
)

METHODS = ("prompt_tuning", "bbt", "lora", "full")


def train(method: str, model: Any, prompt: Any, split: Any, seed: int, steps: int | None) -> Any:
    """Train ``method`` from ``prompt`` on the split's train set, early-stopped on its dev set."""
    length: dict[str, Any] = {}
    if method == "prompt_tuning":
        if steps is not None:
            length = {"steps": steps}
        return train_soft_prompt(model, prompt, split.train, split.dev, SoftPromptConfig(seed=seed, **length))
    if method == "bbt":
        if steps is not None:
            length = {"iterations": steps}
        return train_bbt(model, prompt, split.train, split.dev, BBTConfig(seed=seed, **length))
    if steps is not None:
        length = {"epochs": steps}
    return finetune(model, prompt, split.train, split.dev, FinetuneConfig(mode=method, seed=seed, **length))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="search_spaces/movies.yaml")
    ap.add_argument("--model", default=None, help="model to load (default: the space's)")
    ap.add_argument("--seeds", default="13,21,42,87,100")
    ap.add_argument("--test-limit", type=int, default=500)
    ap.add_argument(
        "--methods", default="prompt_tuning,bbt,lora", help=f"comma-separated, of {', '.join(METHODS)}"
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="override the training length of every method (prompt tuning steps, BBT generations, "
        "LoRA epochs); default: each config's own",
    )
    ap.add_argument("--out", default="runs/tuning-table")
    args = ap.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if args.steps is not None and args.steps < 1:
        ap.error(f"--steps must be at least 1, got {args.steps}")
    seeds = [int(s) for s in args.seeds.split(",")]

    space = load_search_space(args.space)
    spec = space.require_task()
    task = load_task(spec.name_or_path, **spec.loader_kwargs())
    space.check_task_type(task.task_type)
    if not task.kind.label_words:
        ap.error(f"task {task.name!r} has no label words; these tuners train classification prompts")
    metric = get_metric(space.metric or task.metric)  # the protocol's choice of the best manual prompt
    sign = 1.0 if metric.direction == "maximize" else -1.0
    model = load_model(args.model or space.model, dtype="float32", device="auto")
    scorer = hf_backend(model, batch_size=space.batch_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = SQLiteScoreCache(out / "scores.sqlite")
    manual = _manual_prompts(space, task)
    for prompt in manual:
        prompt.check(task)
    rows: dict[str, dict[str, list[float]]] = {
        m: {"acc": [], "sps": [], "mem": [], "sec": []} for m in (BEST_MANUAL, *methods)
    }
    for seed in seeds:
        split = few_shot_split(task, k=space.split.k, seed=seed).shorten(spec.max_words)
        test = list(split.test)[: args.test_limit]
        dev = DevObjective(scorer, task, split.dev, metric, cache=cache, seed=seed)
        dev_scores = [dev.full(p)[0] for p in manual]
        best = manual[max(range(len(manual)), key=lambda i: (sign * dev_scores[i], -i))]
        manual_acc = evaluate_prompt(scorer, best, task, test, cache=cache, metric="accuracy").metrics[
            "accuracy"
        ]
        rows[BEST_MANUAL]["acc"].append(manual_acc)
        print(f"seed {seed} {BEST_MANUAL}: test {manual_acc:.3f} ({best.template.source!r})", flush=True)
        for method in methods:
            t0 = time.perf_counter()
            result = train(method, model, best, split, seed, args.steps)
            tuned = result.backend(model, batch_size=space.batch_size)
            acc = evaluate_prompt(tuned, best, task, test, metric="accuracy").metrics["accuracy"]
            rows[method]["acc"].append(acc)
            rows[method]["sps"].append(result.seconds_per_step)
            rows[method]["mem"].append(result.peak_memory_mb)
            rows[method]["sec"].append(time.perf_counter() - t0)
            print(
                f"seed {seed} {method}: test {acc:.3f}, {result.seconds_per_step:.2f} s/step, "
                f"peak {result.peak_memory_mb:.0f} MB, dev {result.dev_accuracy:.3f}",
                flush=True,
            )
    steps = f", training length {args.steps} (--steps)" if args.steps is not None else ""
    lines = [
        f"Task {task.name}, model {model.name} ({model.dtype}, {model.device}), K={space.split.k}, "
        f"seeds {args.seeds}, test n={len(test)}{steps}; accuracy x100.",
        "",
        "| method | mean (std) | per seed | s/step | peak memory (MB) |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        acc = r["acc"]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        sps = f"{statistics.fmean(r['sps']):.2f}" if r["sps"] else "–"
        mem = f"{max(r['mem']):.0f}" if r["mem"] else "–"
        lines.append(
            f"| {name} | {100 * statistics.fmean(acc):.1f} ({100 * std:.1f}) | "
            f"{' '.join(f'{100 * a:.1f}' for a in acc)} | {sps} | {mem} |"
        )
    table = "\n".join(lines)
    print(table)
    (out / "tuning_table.md").write_text(table + "\n", encoding="utf-8")
    (out / "tuning_table.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
