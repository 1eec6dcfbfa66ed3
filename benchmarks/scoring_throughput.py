"""Scoring throughput: promptsearch's batched scorer vs a naive loop, side by side in one run.

The naive loop runs one forward pass per (example, label word) with full logits over every
position, which is how a first implementation usually looks. Both score the same examples
with the same model and dtype; the script checks that they agree and prints examples per
second for each and their ratio (best of ``--repeats`` runs, after a warm-up).

    python benchmarks/scoring_throughput.py --n 200 --dtype float32
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from promptsearch.backends._tokens import encode_continuations, start_tokens
from promptsearch.models import DEFAULT_MODEL, load_model
from promptsearch.scoring import make_scorer
from promptsearch.tasks import few_shot_split, load_task
from promptsearch.templates import Prompt


def naive_scores(lm, instances):  # type: ignore[no-untyped-def]
    tok = lm.tokenizer
    start = start_tokens(tok)
    out = []
    for inst in instances:
        enc = encode_continuations(tok, [inst.full_context], [inst.choices], start)[0]
        row = []
        for cont in enc.continuations:
            ids = torch.tensor([enc.context + cont])
            with torch.inference_mode():
                logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
            n = len(enc.context)
            row.append(sum(float(logp[n - 1 + t, c]) for t, c in enumerate(cont)))
        out.append(np.array(row))
    return out


def best_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="movies")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--template", default="Review: {text}\nSentiment:{label}")
    ap.add_argument("--verbalizer", default="negative,positive")
    args = ap.parse_args()

    lm = load_model(args.model, dtype=args.dtype, device="cpu")
    task = load_task(args.task)
    examples = list(few_shot_split(task, k=16, seed=13).test)[: args.n]
    prompt = Prompt.create(args.template, args.verbalizer, task.label_names)
    instances = prompt.instances(examples)
    scorer = make_scorer(lm, batch_size=args.batch_size)
    scorer.loglikelihood(instances[:16])  # warm-up
    naive_scores(lm, instances[:4])
    fast = scorer.loglikelihood(instances)
    slow = naive_scores(lm, instances)
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(fast, slow))
    t_fast = best_time(lambda: scorer.loglikelihood(instances), args.repeats)
    t_slow = best_time(lambda: naive_scores(lm, instances), max(1, args.repeats - 1))
    print(f"model={args.model} dtype={args.dtype} n={len(instances)} threads={torch.get_num_threads()}")
    print(f"max |score difference| = {max_diff:.2e}")
    print(f"promptsearch scorer: {len(instances) / t_fast:8.1f} examples/s ({t_fast:.2f} s)")
    print(f"naive loop         : {len(instances) / t_slow:8.1f} examples/s ({t_slow:.2f} s)")
    print(f"speed-up           : {t_slow / t_fast:.2f}x")


if __name__ == "__main__":
    main()
