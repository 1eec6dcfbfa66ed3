"""promptsearch's ``hf`` backend vs lm-evaluation-harness ``HFLM.loglikelihood``, side by side.

Both score the same (context, label word) requests built from the ``movies`` task's test
sentences and the templates of ``search_spaces/movies.yaml``, with the same model (SmolLM2) on
CPU, interleaved run by run, in float32 and in bfloat16. Scenarios:

* ``zero-shot``: instruction + template, no demonstrations;
* ``demos-4``, ``demos-8``: 4 or 8 training demonstrations shared by every query;
* ``similar-4``: the 4 training examples most similar to each query (TF-IDF), so each query
  has its own prefix.

It prints requests/s of each, their ratio, the largest |log-prob difference|, the real
(non-padding) tokens each pushed through the model, and the fraction of the matmul roofline
each reached: real tokens x 2 x non-embedding parameters per second, over the peak of a
2048x2048 matmul measured in the same run and dtype. A request is one (sentence, label word)
pair, as lm-eval counts them. Timings are the best of ``--repeats`` interleaved runs after a
warm-up; the prefix cache of the backend is emptied before every timed run, so each run
computes its prefixes again. The script refuses to report when another process used the cores
during a timed run (read from /proc/stat against this process's own CPU time), or when a short
matmul probe just before or after a run was more than 25% slower than the fastest probe (work
that /proc/stat does not show, such as another virtual machine on the same cores).

Setup (once; lm-eval lives in its own environment, .venv-bench, which git ignores)::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0        # the CPU wheel (from the local wheel folder)
    .venv-bench/bin/pip install lm-eval==0.4.13
    .venv-bench/bin/pip install -e .

Run (idle cores; the malloc settings remove ~1M page faults per run in bf16, see PITFALLS)::

    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456 \\
        .venv-bench/bin/python benchmarks/vs_lm_eval.py            # 400 sentences = 800 requests
    .venv-bench/bin/python benchmarks/vs_lm_eval.py --quick        # 100 requests per scenario

The last lines, one per scenario and dtype, read
``vs_lm_eval SCENARIO DTYPE ratio=R maxdiff=D roofline_ps=P roofline_lm=Q`` (R = promptsearch's
requests/s over lm-eval's).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("zero-shot", "demos-4", "demos-8", "similar-4")
IDLE_TOLERANCE = 0.10  # share of the cores' time other processes may use during a run
PROBE_TOLERANCE = 0.25  # how much slower than the fastest probe the probes around a run may be


# -- idle cores ------------------------------------------------------------------------------
def _system_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_busy_s() -> float:
    """CPU seconds of this process, all its threads (and waited-for children)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class CoreMonitor:
    """Measures, around each timed run, how much CPU time other processes used.

    ``with monitor.run("label"):`` around a timed block; :attr:`busy_runs` lists the runs in which
    others used more than :data:`IDLE_TOLERANCE` of the cores' time. Work that /proc/stat cannot
    see (another virtual machine on the same cores) is caught by a 0.2 s matmul probe just
    before and after each run: a run whose probes are more than :data:`PROBE_TOLERANCE` slower
    than the fastest probe of the benchmark counts as busy too.
    """

    busy_runs: list[str] = field(default_factory=list)
    worst: float = 0.0
    best_probe: float = 0.0
    probes: list[tuple[str, float]] = field(default_factory=list)

    def calibrate(self, times: int = 5) -> None:
        """Probe the idle cores' speed before any run (after one warm-up probe)."""
        _probe_speed()
        self.best_probe = max(self.best_probe, *(_probe_speed() for _ in range(times)))

    def finish(self) -> None:
        """Judge every run's probes against the fastest probe of the whole benchmark."""
        for label, speed in self.probes:
            slowdown = 1.0 - speed / self.best_probe
            self.worst = max(self.worst, slowdown)
            if slowdown > PROBE_TOLERANCE and not any(b.startswith(label + ":") for b in self.busy_runs):
                self.busy_runs.append(f"{label}: the cores ran {slowdown:.0%} slower around it")
        self.probes.clear()

    def run(self, label: str) -> _Watch:
        return _Watch(self, label)

    def conclude(self) -> None:
        """After the last run: refuse (exit 3, listing the busy runs) or say the cores were idle."""
        self.finish()
        if self.busy_runs:
            print(
                f"REFUSED: other processes used the cores during {len(self.busy_runs)} timed run(s), so the "
                "ratios are not reported:"
            )
            for line in self.busy_runs:
                print(f"  {line}")
            sys.exit(3)
        print(f"cores idle during every timed run (others used at most {self.worst:.0%} of them)")


class _Watch:
    def __init__(self, monitor: CoreMonitor, label: str) -> None:
        self.monitor, self.label = monitor, label

    def __enter__(self) -> _Watch:
        self.probe0 = _probe_speed()
        self.t0, self.sys0, self.own0 = time.perf_counter(), _system_busy_s(), _own_busy_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        others = (_system_busy_s() - self.sys0) - (_own_busy_s() - self.own0)
        share = max(0.0, others) / max(wall * (os.cpu_count() or 1), 1e-9)
        probes = (self.probe0, _probe_speed())
        monitor = self.monitor
        monitor.best_probe = max(monitor.best_probe, *probes)
        monitor.probes.append((self.label, min(probes)))
        slowdown = 1.0 - min(probes) / monitor.best_probe
        monitor.worst = max(monitor.worst, share, slowdown)
        if share > IDLE_TOLERANCE and wall > 0.2:  # jiffies are too coarse for shorter runs
            monitor.busy_runs.append(f"{self.label}: others used {share:.0%} of the cores")
        elif slowdown > PROBE_TOLERANCE:
            monitor.busy_runs.append(f"{self.label}: the cores ran {slowdown:.0%} slower around it")


def _probe_speed(seconds: float = 0.2) -> float:
    """Matmuls of 512 x 512 per second, over ``seconds``: a gauge of how free the cores are."""
    import torch

    a = torch.ones(512, 512)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ a
        n += 1
    return n / (time.perf_counter() - t0)


def cores_busy_now(seconds: float = 1.0) -> float:
    """Share of the cores' time others used over ``seconds`` of sleep (before any work)."""
    s0, o0 = _system_busy_s(), _own_busy_s()
    time.sleep(seconds)
    return max(0.0, (_system_busy_s() - s0) - (_own_busy_s() - o0)) / (seconds * (os.cpu_count() or 1))


# -- roofline --------------------------------------------------------------------------------
def matmul_peak(dtype: Any, size: int = 2048, repeats: int = 8) -> float:
    """Best FLOP/s of a ``size`` x ``size`` matmul in ``dtype`` on this machine, now."""
    import torch

    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def non_embedding_parameters(model: Any) -> int:
    """Parameters outside the input embeddings (a tied output projection counts once: not here)."""
    total = sum(p.numel() for p in model.parameters())
    return int(total - model.get_input_embeddings().weight.numel())


# -- requests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One benchmark case: its prompt instances (each with its two label words)."""

    name: str
    instances: tuple[Any, ...]

    @property
    def n_requests(self) -> int:
        return sum(len(i.continuations) for i in self.instances)


def build_scenarios(n_sentences: int, names: Sequence[str] = SCENARIOS, seed: int = 13) -> list[Scenario]:
    """The scenarios' prompt instances from the ``movies`` test sentences and movies.yaml."""
    import yaml

    from promptsearch.demonstrations._selectors import SimilarSelector, select_random
    from promptsearch.tasks import few_shot_split, load_task
    from promptsearch.templates import Prompt

    space = yaml.safe_load((ROOT / "search_spaces" / "movies.yaml").read_text())
    template = space["templates"]["seeds"][0]
    instruction = next(i for i in space["templates"]["grammar"]["instruction"] if i)
    verbalizer = space["verbalizers"]["candidates"][0]
    task = load_task("movies")
    split = few_shot_split(task, k=16, seed=seed)
    test = list(split.test)[:n_sentences]
    out = []
    for name in names:
        kwargs: dict[str, Any] = {"instruction": instruction}
        if name.startswith("demos-"):
            kwargs["demonstrations"] = select_random(split.train, int(name.split("-")[1]), seed=seed)
        elif name.startswith("similar-"):
            kwargs["selector"] = SimilarSelector(split.train, int(name.split("-")[1]))
        prompt = Prompt.create(template, verbalizer, task.label_names, **kwargs)
        out.append(Scenario(name, tuple(prompt.instance(e) for e in test)))
    return out


# -- timing ----------------------------------------------------------------------------------
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "268435456",
}


def reexec_with_malloc_settings() -> None:
    """Restart this script with the glibc malloc settings of PITFALLS unless they are set."""
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()) or os.environ.get("BENCH_NO_MALLOC"):
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})


def timed(monitor: CoreMonitor, label: str, fn: Callable[[], Any], retries: int) -> tuple[float, Any]:
    """Run ``fn`` once and time it; run it again (up to ``retries`` times, after a pause) while
    another process used the cores during the run. Busy runs that remain are in ``monitor``."""
    for attempt in range(retries + 1):
        probe = CoreMonitor(best_probe=monitor.best_probe)
        with probe.run(label):
            t0 = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - t0
        monitor.worst = max(monitor.worst, probe.worst)
        monitor.best_probe = max(monitor.best_probe, probe.best_probe)
        if not probe.busy_runs:
            monitor.probes.extend(probe.probes)
            return seconds, result
        print(f"  ({probe.busy_runs[0]}; {'retrying' if attempt < retries else 'giving up'})", flush=True)
        time.sleep(5.0)
    monitor.busy_runs.extend(probe.busy_runs)
    return seconds, result


# -- the two scorers -------------------------------------------------------------------------
def lm_eval_instances(scenario: Scenario) -> list[Any]:
    """One lm-eval ``Instance`` per (sentence, label word): context = prefix + context."""
    from lm_eval.api.instance import Instance

    return [
        Instance(
            request_type="loglikelihood",
            doc={},
            arguments=(inst.full_context, cont),
            idx=j,
            metadata=(scenario.name, i, 1),
        )
        for i, inst in enumerate(scenario.instances)
        for j, cont in enumerate(inst.continuations)
    ]


class LmEvalTokens:
    """Counts the real tokens lm-eval's ``HFLM`` runs: it tokenizes every request, groups those
    whose input (context + continuation minus its last token) is the same, and runs each group
    once as one unpadded-length row. Read from the requests it passes to
    ``_loglikelihood_tokens``; a forward hook counts the rows it really ran to check that."""

    def __init__(self, lm: Any) -> None:
        self.tokens = self.rows_expected = self.rows_run = 0
        inner = lm._loglikelihood_tokens

        def counting(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
            keys = {tuple(ctx + cont[:-1]) for _, ctx, cont in requests}
            self.rows_expected += len(keys)
            self.tokens += sum(len(k[-lm.max_length :]) for k in keys)
            return inner(requests, *args, **kwargs)

        lm._loglikelihood_tokens = counting
        lm.model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: Any) -> None:
        ids = args[0] if args else kwargs.get("input_ids")
        self.rows_run += int(ids.shape[0])

    def reset(self) -> None:
        self.tokens = self.rows_expected = self.rows_run = 0


@dataclass
class Result:
    """Best times of both scorers on one scenario in one dtype, and what they computed."""

    scenario: str
    dtype: str
    n_requests: int
    seconds_ps: float
    seconds_lm: float
    maxdiff: float
    tokens_ps: int
    tokens_lm: int
    flops_per_token: float = 0.0
    peak: float = 0.0

    @property
    def ratio(self) -> float:
        return self.seconds_lm / self.seconds_ps

    @property
    def roofline_ps(self) -> float:
        return self.tokens_ps * self.flops_per_token / self.seconds_ps / self.peak

    @property
    def roofline_lm(self) -> float:
        return self.tokens_lm * self.flops_per_token / self.seconds_lm / self.peak

    def describe(self) -> str:
        n = self.n_requests
        return (
            f"[{self.dtype}] {self.scenario}, {n} requests: promptsearch {n / self.seconds_ps:.1f} req/s, "
            f"lm-eval {n / self.seconds_lm:.1f} req/s, ratio {self.ratio:.2f}x, "
            f"max |diff| {self.maxdiff:.1e}, "
            f"real tokens {self.tokens_ps} vs {self.tokens_lm}, "
            f"roofline {self.roofline_ps:.0%} vs {self.roofline_lm:.0%}"
        )


def compare(
    ps: Any,
    lm: Any,
    counter: LmEvalTokens,
    sc: Scenario,
    dtype: str,
    args: argparse.Namespace,
    monitor: CoreMonitor,
) -> Result:
    """Time both scorers on one scenario, interleaved, and compare their log-probabilities."""
    requests = lm_eval_instances(sc)
    instances = list(sc.instances)
    ps.loglikelihood(instances[:4])  # warm-up
    lm.loglikelihood(requests[:8], disable_tqdm=True)

    def run_ps() -> tuple[list[np.ndarray], int]:
        ps.prefixes.clear()  # every run computes its prefixes again
        ps.stats.reset()
        return ps.loglikelihood(instances), int(ps.stats.tokens)

    def run_lm() -> tuple[list[tuple[float, bool]], int]:
        counter.reset()
        return lm.loglikelihood(requests, disable_tqdm=True), counter.tokens

    times: dict[str, list[float]] = {"ps": [], "lm": []}
    outputs: dict[str, Any] = {}
    for rep in range(args.repeats):
        order = [("ps", run_ps), ("lm", run_lm)] if rep % 2 == 0 else [("lm", run_lm), ("ps", run_ps)]
        for name, fn in order:
            seconds, outputs[name] = timed(
                monitor, f"{sc.name} {dtype} {name} run {rep + 1}", fn, args.retries
            )
            times[name].append(seconds)
    if counter.rows_run != counter.rows_expected:
        print(f"  note: lm-eval ran {counter.rows_run} rows, {counter.rows_expected} expected", flush=True)
    (ps_scores, tokens_ps), (lm_scores, tokens_lm) = outputs["ps"], outputs["lm"]
    flat_ps = np.concatenate([np.asarray(s, dtype=np.float64) for s in ps_scores])
    flat_lm = np.array([float(x[0]) for x in lm_scores])
    maxdiff = float(np.abs(flat_ps - flat_lm).max())
    return Result(
        sc.name, dtype, sc.n_requests, min(times["ps"]), min(times["lm"]), maxdiff, tokens_ps, tokens_lm
    )


def run_dtype(
    args: argparse.Namespace, dtype: str, scenarios: Sequence[Scenario], monitor: CoreMonitor
) -> list[Result]:
    """Load both scorers in ``dtype`` and time every scenario; the matmul peak is measured before
    and after (the higher one counts)."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from promptsearch.backends import hf_backend
    from promptsearch.models import fetch_model, load_model

    folder = fetch_model(args.model)
    loaded = load_model(str(folder), dtype=dtype, device="cpu")
    ps = hf_backend(loaded, batch_tokens=args.batch_tokens, fast_kernels=not args.no_fast_kernels)
    lm = HFLM(pretrained=str(folder), batch_size=args.lm_eval_batch_size, dtype=dtype, device="cpu")
    counter = LmEvalTokens(lm)
    params = non_embedding_parameters(loaded.model)
    torch_dtype = getattr(torch, dtype)
    peak = matmul_peak(torch_dtype)
    print(
        f"[{dtype}] {params / 1e6:.1f}M non-embedding parameters, {torch.get_num_threads()} threads",
        flush=True,
    )
    results = []
    for sc in scenarios:
        results.append(compare(ps, lm, counter, sc, dtype, args, monitor))
        print(f"  {sc.name}: done", flush=True)
    peak = max(peak, matmul_peak(torch_dtype))
    print(f"[{dtype}] matmul peak {peak / 1e9:.0f} GFLOP/s", flush=True)
    for r in results:
        r.flops_per_token, r.peak = 2.0 * params, peak
        print(r.describe(), flush=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 requests (50 sentences) per scenario")
    ap.add_argument(
        "--sentences", type=int, default=200, help="test sentences per scenario (x 2 label words)"
    )
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each scorer (best is kept)")
    ap.add_argument("--retries", type=int, default=2, help="reruns of a run during which the cores were busy")
    ap.add_argument("--lm-eval-batch-size", type=int, default=32)
    ap.add_argument("--batch-tokens", type=int, default=None, help="the backend's padded tokens per call")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument(
        "--no-fast-kernels",
        action="store_true",
        help="the backend keeps the model's own attention (no short-row attention in bf16)",
    )
    args = ap.parse_args()
    reexec_with_malloc_settings()
    sentences = 50 if args.quick else args.sentences
    names = [n for n in args.scenarios.split(",") if n]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        ap.error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    busy = cores_busy_now(2.0)
    if busy > IDLE_TOLERANCE:
        print(f"Other processes use {busy:.0%} of the cores now; runs during which they do are retried.")
    scenarios = build_scenarios(sentences, names)
    monitor = CoreMonitor()
    monitor.calibrate()
    results: list[Result] = []
    for dtype in [d for d in args.dtypes.split(",") if d]:
        results += run_dtype(args, dtype, scenarios, monitor)
    monitor.conclude()
    bad = [r for r in results if r.dtype == "float32" and r.maxdiff > 1e-3]
    for r in results:
        print(
            f"vs_lm_eval {r.scenario} {r.dtype} ratio={r.ratio:.2f} maxdiff={r.maxdiff:.1e} "
            f"roofline_ps={r.roofline_ps:.2f} roofline_lm={r.roofline_lm:.2f}"
        )
    if bad:
        sys.exit(f"FAILED: float32 log-probabilities differ by more than 1e-3 in {[r.scenario for r in bad]}")


if __name__ == "__main__":
    main()
