"""A served model (vLLM's OpenAI-compatible server) against the in-process ``hf`` backend.

Everything is measured side by side in one run, on the same cores and model (float32 on both
sides), with nothing else running:

1. **Agreement.** Log-probabilities of the same requests (the README main job's winner on the
   300 test sentences of ``movies``), max |difference|; that winner's test accuracy through both
   backends; greedy generations on questions, identical or not.
2. **Scoring throughput.** Requests per second on 200 ``movies`` sentences, zero-shot and with 4
   shared demonstrations, each backend built fresh (the server's prefix cache cleared by a
   restart is not attempted: the first pass over a prompt is reported, and a second pass).
3. **Searches.** The same 60-trial search (``search_spaces/movies.yaml``, automatic label words
   off: they come from the server's top 20 next tokens but from the whole vocabulary in
   process, so the two searches would not search the same space) in process and through the
   server with 1, 2 and 4 local workers: wall time, and the winner.

    .venv/bin/python benchmarks/served.py                 # starts and stops a server (.ci/vllm.sh)
    .venv/bin/python benchmarks/served.py --url http://127.0.0.1:8000/v1 --model smollm2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptsearch.backends import GenerationRequest, GenerationSettings, LoglikelihoodRequest, load_backend  # noqa: E402
from promptsearch.evaluation import evaluate_prompt  # noqa: E402
from promptsearch.models import fetch_model  # noqa: E402
from promptsearch.tasks import few_shot_split, load_task  # noqa: E402
from promptsearch.templates import Prompt  # noqa: E402

QUESTIONS = [
    "Question: What is the capital of France?\nAnswer:",
    "Question: Who wrote Hamlet?\nAnswer:",
    "Question: What is 12 times 12?\nAnswer:",
    "Question: What colour is the sky on a clear day?\nAnswer:",
    "Question: Which planet is known as the red planet?\nAnswer:",
    "Question: What is the boiling point of water in Celsius?\nAnswer:",
    "Question: What language is spoken in Brazil?\nAnswer:",
    "Question: Who painted the Mona Lisa?\nAnswer:",
    "Translate to French: good morning\nFrench:",
    "Complete the sentence: The quick brown fox",
]


def _requests(prompt: Prompt, examples: list) -> list[LoglikelihoodRequest]:  # type: ignore[type-arg]
    return [
        LoglikelihoodRequest(i.context, tuple(i.continuations), i.prefix, i.suffix)
        for i in prompt.instances(examples)
    ]


def agreement(served: object, local: object, out: dict[str, object]) -> None:
    task = load_task("movies")
    split = few_shot_split(task, k=16, seed=13)
    test = list(split.test[:300])
    board = json.loads((ROOT / "runs/movies/leaderboard.json").read_text())
    winner = Prompt.from_dict(board["rows"][0]["prompt"])
    members = getattr(winner, "members", (winner,))
    worst = 0.0
    n = 0
    for member in members:
        reqs = _requests(member, test)
        a = np.concatenate(served.loglikelihood(reqs))  # type: ignore[attr-defined]
        b = np.concatenate(local.loglikelihood(reqs))  # type: ignore[attr-defined]
        worst = max(worst, float(np.max(np.abs(a - b))))
        n += a.size
    acc = {}
    for name, lm in (("served", served), ("hf", local)):
        acc[name] = evaluate_prompt(lm, winner, task, test).metrics["accuracy"]  # type: ignore[arg-type]
    settings = GenerationSettings(max_new_tokens=16, stop=("\n",))
    gens = {
        name: lm.generate([GenerationRequest(q) for q in QUESTIONS], settings)  # type: ignore[attr-defined]
        for name, lm in (("served", served), ("hf", local))
    }
    same = sum(a == b for a, b in zip(gens["served"], gens["hf"]))
    out["agreement"] = {
        "logprob_values": n,
        "max_abs_logprob_difference": worst,
        "winner_test_accuracy": acc,
        "greedy_identical": f"{same}/{len(QUESTIONS)}",
        "differences": [(q, a, b) for q, a, b in zip(QUESTIONS, gens["served"], gens["hf"]) if a != b],
    }
    print(
        f"agreement: max |log-prob difference| {worst:.2e} over {n} values; winner test accuracy served "
        f"{acc['served']:.4f} vs hf {acc['hf']:.4f}; greedy generations identical {same}/{len(QUESTIONS)}",
        flush=True,
    )


def throughput(url: str, model: str, folder: str, out: dict[str, object]) -> None:
    task = load_task("movies")
    split = few_shot_split(task, k=16, seed=13)
    examples = list(split.test[300:500])
    zero = Prompt.for_task(task, "Review: {text}\nSentiment:{label}", "negative,positive")
    demos = Prompt.for_task(
        task, "Review: {text}\nSentiment:{label}", "negative,positive", demonstrations=tuple(split.train[:4])
    )
    rows = {}
    for label, prompt in (("zero-shot", zero), ("4 shared demonstrations", demos)):
        reqs = _requests(prompt, examples)
        times = {}
        for name in ("hf", "served"):
            lm = (
                load_backend("openai", model, base_url=url)
                if name == "served"
                else load_backend("hf", folder, dtype="float32", device="cpu")
            )
            passes = []
            for _ in range(2):
                started = time.perf_counter()
                lm.loglikelihood(reqs)
                passes.append(time.perf_counter() - started)
            times[name] = passes
        rows[label] = {
            "requests": len(reqs),
            "hf_s": times["hf"],
            "served_s": times["served"],
            "served_over_hf_speed": times["hf"][0] / times["served"][0],
        }
        print(
            f"throughput {label}: hf {len(reqs) / times['hf'][0]:.1f} req/s (second pass "
            f"{len(reqs) / times['hf'][1]:.1f}), served {len(reqs) / times['served'][0]:.1f} req/s (second "
            f"pass {len(reqs) / times['served'][1]:.1f}): served/hf "
            f"{rows[label]['served_over_hf_speed']:.2f}x",
            flush=True,
        )
    out["throughput"] = rows


def searches(
    url: str, model: str, trials: int, workers: list[int], out: dict[str, object], test_limit: int = 300
) -> None:
    space = yaml.safe_load((ROOT / "search_spaces/movies.yaml").read_text())
    space["verbalizers"]["auto"]["enabled"] = False
    tmp = Path(tempfile.mkdtemp(prefix="served-bench-"))
    space_file = tmp / "space.yaml"
    space_file.write_text(yaml.safe_dump(space))
    runs = [("in-process hf", 1, ["--dtype", "float32"])] + [
        (
            f"served, {n} worker{'s' if n > 1 else ''}",
            n,
            ["--backend", "openai", "--base-url", url, "--model", model],
        )
        for n in workers
    ]
    results = []
    for label, n, extra in runs:
        folder = tmp / label.replace(" ", "_").replace(",", "")
        command = [
            sys.executable, "-m", "promptsearch", "-q", "search", str(space_file), "--trials", str(trials),
            "--test-limit", str(test_limit), "--out", str(folder), "--workers", str(n), *extra,
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
        board = json.loads((folder / "leaderboard.json").read_text())
        best = board["rows"][0]
        results.append(
            {
                "run": label,
                "workers": n,
                "seconds": round(seconds, 1),
                "trials": board["n_trials"],
                "winner": best["prompt_id"],
                "winner_origin": best["origin"],
                "winner_test_accuracy": best["test_metrics"]["accuracy"],
            }
        )
        print(
            f"search {label}: {seconds:.0f} s, {board['n_trials']} trials, winner {best['prompt_id'][:10]} "
            f"({best['origin']}) test accuracy {best['test_metrics']['accuracy']:.4f}",
            flush=True,
        )
    base = results[0]["seconds"]
    for r in results:
        r["speed_vs_in_process"] = round(float(base) / float(r["seconds"]), 2)  # type: ignore[arg-type]
    out["searches"] = results
    one = next((r for r in results if r["workers"] == 1 and r["run"] != "in-process hf"), None)
    if one is not None:
        print(f"same winner with one worker: {one['winner'] == results[0]['winner']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running server's API root (default: start one)")
    parser.add_argument("--model", default="smollm2", help="the served model's name")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--test-limit", type=int, default=300, help="test sentences per leaderboard row")
    parser.add_argument("--parts", default="agreement,throughput,searches")
    parser.add_argument("--json", default="runs/served/results.json", help="where the numbers go")
    args = parser.parse_args()
    folder = str(fetch_model("smollm2-135m-instruct"))
    started_here = args.url is None
    url = args.url
    if started_here:
        url = subprocess.run(
            ["bash", str(ROOT / ".ci/vllm.sh"), "start", folder, args.model, "0"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    out: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "url": url}
    try:
        parts = args.parts.split(",")
        if "agreement" in parts:
            served = load_backend("openai", args.model, base_url=url)
            local = load_backend("hf", folder, dtype="float32", device="cpu")
            agreement(served, local, out)
        if "throughput" in parts:
            throughput(url, args.model, folder, out)
        if "searches" in parts:
            workers = [int(n) for n in args.workers.split(",")]
            searches(url, args.model, args.trials, workers, out, args.test_limit)
    finally:
        if started_here:
            subprocess.run(["bash", str(ROOT / ".ci/vllm.sh"), "stop"], capture_output=True)
    path = ROOT / args.json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"numbers written to {path}")


if __name__ == "__main__":
    main()
