"""Few-shot table rows for soft prompts and prompt-based tuning (LM-BFF protocol).

For every seed split it takes the best manual prompt on dev (the protocol's "best manual"
row: every seed template of the space x every verbalizer candidate), then trains, from that
prompt, on the split's train examples with early stopping on dev:
  * prompt tuning (8 soft tokens, PEFT-initialised from text, AdamW),
  * BBT (CMA-ES over a random projection into the soft prompt; no gradients),
  * LoRA prompt-based fine-tuning (verbalizer objective),
and reports test accuracy mean (std) over seeds, seconds per training step and peak memory.

    python benchmarks/tuning_table.py --seeds 13,21,42,87,100 --test-limit 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from promptsearch.search._objective import DevScorer
from promptsearch.search._protocol import _manual_prompts

from promptsearch.evaluation import evaluate_prompt
from promptsearch.models import load_model
from promptsearch.scoring import make_scorer
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="search_spaces/movies.yaml")
    ap.add_argument("--seeds", default="13,21,42,87,100")
    ap.add_argument("--test-limit", type=int, default=500)
    ap.add_argument("--methods", default="prompt_tuning,bbt,lora")
    ap.add_argument("--out", default="runs/tuning-table")
    args = ap.parse_args()

    space = load_search_space(args.space)
    assert space.task is not None
    task = load_task(space.task.name_or_path)
    model = load_model(space.model, dtype="float32", device="auto")
    scorer = make_scorer(model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = SQLiteScoreCache(out / "scores.sqlite")
    manual = _manual_prompts(space, task.label_names, task.verbalizer_or_default())
    methods = args.methods.split(",")
    rows: dict[str, dict[str, list[float]]] = {
        m: {"acc": [], "sps": [], "mem": [], "sec": []} for m in methods
    }
    rows["best manual"] = {"acc": [], "sps": [], "mem": [], "sec": []}
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = few_shot_split(task, k=space.split.k, seed=seed)
        test = list(split.test)[: args.test_limit]
        dev = DevScorer(scorer, task, split.dev, cache=cache, seed=seed)
        best = max(manual, key=lambda p: dev.full(p)[0])
        rows["best manual"]["acc"].append(evaluate_prompt(scorer, best, task, test, cache=cache).accuracy)
        for method in methods:
            t0 = time.perf_counter()
            if method == "prompt_tuning":
                result = train_soft_prompt(model, best, split.train, split.dev, SoftPromptConfig(seed=seed))
                tuned = result.scorer(model)
            elif method == "bbt":
                result = train_bbt(model, best, split.train, split.dev, BBTConfig(seed=seed))
                tuned = result.scorer(model)
            else:
                result = finetune(model, best, split.train, split.dev, FinetuneConfig(mode=method, seed=seed))
                tuned = make_scorer(result.model)
            acc = evaluate_prompt(tuned, best, task, test).accuracy
            rows[method]["acc"].append(acc)
            rows[method]["sps"].append(result.seconds_per_step)
            rows[method]["mem"].append(result.peak_memory_mb)
            rows[method]["sec"].append(time.perf_counter() - t0)
            print(
                f"seed {seed} {method}: test {acc:.3f}, {result.seconds_per_step:.2f} s/step, "
                f"peak {result.peak_memory_mb:.0f} MB, dev {result.dev_accuracy:.3f}",
                flush=True,
            )
        print(f"seed {seed} best manual: test {rows['best manual']['acc'][-1]:.3f}", flush=True)
    lines = [
        f"Task {task.name}, model {model.name} (fp32, CPU), K={space.split.k}, seeds {args.seeds}, "
        f"test n={args.test_limit}; accuracy x100.",
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
    (out / "tuning_table.md").write_text(table + "\n")
    (out / "tuning_table.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
