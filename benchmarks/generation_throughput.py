"""Generation throughput: promptsearch's batched generator vs a one-at-a-time ``model.generate``
loop vs lm-evaluation-harness ``HFLM.generate_until``, side by side in one run.

All three answer the same questions greedily with the same model (SmolLM2) and dtype on CPU:
"What is the capital of X?" (the toy capitals of ``tests/_toy.py``, asked in three wordings),
after a shared instruction and three answered demonstrations (the requests' ``prefix``),
stopping at a newline or after ``--max-new-tokens`` tokens. The script checks that the greedy
texts are identical, and prints requests/s of each and the ratios (best of ``--repeats``
interleaved runs after a warm-up; the backend's prefix store is emptied before every run). Like
``vs_lm_eval.py`` it refuses to report when another process used the cores during a timed run.

Setup: the environment of ``vs_lm_eval.py`` (.venv-bench, with lm-eval==0.4.13). Run::

    .venv-bench/bin/python benchmarks/generation_throughput.py            # 90 questions
    .venv-bench/bin/python benchmarks/generation_throughput.py --quick    # 30 questions

The last lines read ``generation_throughput DTYPE vs_loop=R1 vs_lm_eval=R2 identical=N/M``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from vs_lm_eval import (  # noqa: E402  (the benchmark folder is not a package)
    IDLE_TOLERANCE,
    CoreMonitor,
    cores_busy_now,
    reexec_with_malloc_settings,
    timed,
)

INSTRUCTION = "Answer each question with the name of a city."
WORDINGS = (
    "What is the capital of {}?",
    "Which city is the capital of {}?",
    "Name the capital city of {}.",
)
DEMOS = (("Italy", "Rome"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"))


def questions(n: int) -> tuple[str, list[str], list[str]]:
    """The shared prefix, ``n`` questions (each country in each wording, demonstrations left
    out) and their answers."""
    from tests._toy import _CAPITALS

    pairs = [(w.format(c), city) for w in WORDINGS for c, city in _CAPITALS.items() if c not in dict(DEMOS)]
    demos = "".join(f"Question: {WORDINGS[0].format(c)}\nAnswer: {a}\n\n" for c, a in DEMOS)
    asked = [f"Question: {q}\nAnswer:" for q, _ in pairs[:n]]
    return f"{INSTRUCTION}\n\n{demos}", asked, [city for _, city in pairs[:n]]


def loop_generate(loaded: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    """One ``model.generate`` call per prompt (greedy, stopping at a newline)."""
    import torch

    from promptsearch.backends._hf_generate import cut_at_stop
    from promptsearch.backends._tokens import start_tokens

    tok, model = loaded.tokenizer, loaded.model
    out = []
    for prompt in prompts:
        ids = torch.tensor([start_tokens(tok) + tok(prompt, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            row = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=max_new_tokens,
                stop_strings=["\n"],
                tokenizer=tok,
                pad_token_id=tok.pad_token_id,
            )[0, ids.shape[1] :]
        out.append(cut_at_stop(tok.decode(row, skip_special_tokens=True), ["\n"]))
    return out


def run_dtype(args: argparse.Namespace, dtype: str, monitor: CoreMonitor) -> str:
    """Time the three generators in ``dtype``; return the summary line."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from promptsearch.backends import GenerationRequest, GenerationSettings, hf_backend
    from promptsearch.models import fetch_model, load_model

    folder = fetch_model(args.model)
    loaded = load_model(str(folder), dtype=dtype, device="cpu")
    backend = hf_backend(loaded)
    lm = HFLM(pretrained=str(folder), batch_size=args.lm_eval_batch_size, dtype=dtype, device="cpu")
    prefix, asked, cities = questions(30 if args.quick else args.questions)
    requests = [GenerationRequest(q, prefix) for q in asked]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, stop=("\n",))
    gen_kwargs = {"until": ["\n"], "max_gen_toks": args.max_new_tokens, "do_sample": False}
    instances = [
        Instance(
            request_type="generate_until",
            doc={},
            arguments=(prefix + q, gen_kwargs),
            idx=0,
            metadata=("q", i, 1),
        )
        for i, q in enumerate(asked)
    ]

    def run_ps() -> list[str]:
        backend.prefixes.clear()
        return backend.generate(requests, settings)

    def run_loop() -> list[str]:
        return loop_generate(loaded, [prefix + q for q in asked], args.max_new_tokens)

    def run_lm() -> list[str]:
        return [str(t) for t in lm.generate_until(instances, disable_tqdm=True)]

    runs = {"promptsearch": run_ps, "loop": run_loop, "lm-eval": run_lm}
    backend.generate(requests[:2], settings)  # warm-up
    loop_generate(loaded, [prefix + asked[0]], args.max_new_tokens)
    lm.generate_until(instances[:2], disable_tqdm=True)
    best: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    names = list(runs)
    for rep in range(args.repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            seconds, texts[name] = timed(monitor, f"{dtype} {name} run {rep + 1}", runs[name], args.retries)
            best[name] = min(best.get(name, float("inf")), seconds)
    n = len(requests)
    same = sum(a == b == c for a, b, c in zip(texts["promptsearch"], texts["loop"], texts["lm-eval"]))
    for name in names:
        print(
            f"[{dtype}] {name:12s} {n / best[name]:6.2f} requests/s ({best[name]:.1f} s for {n})", flush=True
        )
    for i, (a, b, c) in enumerate(zip(texts["promptsearch"], texts["loop"], texts["lm-eval"])):
        if not a == b == c:
            print(f"  differs: {asked[i]!r}: promptsearch {a!r}, loop {b!r}, lm-eval {c!r}")
    correct = sum(t.strip() == city for t, city in zip(texts["promptsearch"], cities))
    print(f"[{dtype}] identical greedy texts: {same}/{n}; right capital: {correct}/{n}", flush=True)
    return (
        f"generation_throughput {dtype} vs_loop={best['loop'] / best['promptsearch']:.2f} "
        f"vs_lm_eval={best['lm-eval'] / best['promptsearch']:.2f} identical={same}/{n}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 questions")
    ap.add_argument("--questions", type=int, default=90)
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--lm-eval-batch-size", type=int, default=32)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    args = ap.parse_args()
    reexec_with_malloc_settings()
    busy = cores_busy_now(2.0)
    if busy > IDLE_TOLERANCE:
        print(f"Other processes use {busy:.0%} of the cores now; runs during which they do are retried.")
    monitor = CoreMonitor()
    monitor.calibrate()
    lines = [run_dtype(args, dtype, monitor) for dtype in args.dtypes.split(",") if dtype]
    monitor.conclude()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
