"""The ``hf`` backend's fast CPU kernels (short-row attention in half precision) against the
model's own attention, side by side in one process.

Two copies of the same model, one scored with ``fast_kernels=True`` (the default) and one with
``False``, on the requests of ``benchmarks/vs_lm_eval.py`` (zero-shot and 4 shared
demonstrations, 200 movie sentences x 2 label words). The two runs alternate, each first in
turn, ``--repeats`` times; every run empties the prefix store first. A run during which other
processes used the cores is rerun, and if it stays busy the script refuses to report (exit 3),
as ``vs_lm_eval.py`` does. It prints per scenario and dtype the best time of each, the ratio of
the bests, the median of the paired ratios, the largest log-probability difference between the
two and the fraction of the matmul roofline the fast one reached, then one line each::

    fast_kernels SCENARIO DTYPE ratio=R paired_median=M maxdiff=D roofline=P

Run it on idle cores: ``.venv/bin/python benchmarks/fast_kernels.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.vs_lm_eval import (
    CoreMonitor,
    build_scenarios,
    matmul_peak,
    non_embedding_parameters,
    reexec_with_malloc_settings,
    timed,
)


def run_dtype(args: argparse.Namespace, dtype: str, monitor: CoreMonitor) -> list[str]:
    import torch

    from promptsearch.backends import hf_backend
    from promptsearch.models import fetch_model, load_model

    folder = fetch_model(args.model)
    backends = {
        name: hf_backend(load_model(str(folder), dtype=dtype, device="cpu"), fast_kernels=name == "fast")
        for name in ("plain", "fast")
    }
    params = non_embedding_parameters(backends["fast"].model.model)
    peak = matmul_peak(getattr(torch, dtype))
    lines = []
    for sc in build_scenarios(args.sentences, args.scenarios.split(",")):
        instances = list(sc.instances)
        for backend in backends.values():
            backend.loglikelihood(instances[:8])  # warm-up
        times: dict[str, list[float]] = {"plain": [], "fast": []}
        outputs: dict[str, Any] = {}
        for rep in range(args.repeats):
            order = ("plain", "fast") if rep % 2 == 0 else ("fast", "plain")
            for name in order:
                backend = backends[name]

                def run(backend: Any = backend, instances: list[Any] = instances) -> Any:
                    backend.prefixes.clear()
                    backend.stats.reset()
                    return backend.loglikelihood(instances)

                seconds, outputs[name] = timed(monitor, f"{dtype} {sc.name} {name} #{rep}", run, args.retries)
                times[name].append(seconds)
        tokens = int(backends["fast"].stats.tokens)
        peak = max(peak, matmul_peak(getattr(torch, dtype)))
        best = {k: min(v) for k, v in times.items()}
        paired = statistics.median(p / f for p, f in zip(times["plain"], times["fast"], strict=True))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(outputs["plain"], outputs["fast"], strict=True))
        roofline = tokens * 2 * params / best["fast"] / peak
        print(
            f"[{dtype}] {sc.name}, {sc.n_requests} requests: as loaded {best['plain']:.2f} s, fast kernels "
            f"{best['fast']:.2f} s, ratio {best['plain'] / best['fast']:.3f}x (paired median {paired:.3f}x), "
            f"max |diff| {diff:.1e}, roofline {roofline:.0%} (peak {peak / 1e9:.0f} GFLOP/s)",
            flush=True,
        )
        lines.append(
            f"fast_kernels {sc.name} {dtype} ratio={best['plain'] / best['fast']:.3f} "
            f"paired_median={paired:.3f} maxdiff={diff:.1e} roofline={roofline:.2f}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dtypes", default="bfloat16", help="float32 keeps SDPA: both runs are the same")
    ap.add_argument("--scenarios", default="zero-shot,demos-4")
    ap.add_argument("--sentences", type=int, default=200, help="test sentences (x 2 label words)")
    ap.add_argument("--repeats", type=int, default=4, help="timed runs of each (alternating)")
    ap.add_argument("--retries", type=int, default=2, help="reruns of a run during which the cores were busy")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    args = ap.parse_args()
    reexec_with_malloc_settings()
    monitor = CoreMonitor()
    monitor.calibrate()
    lines = [line for dtype in args.dtypes.split(",") if dtype for line in run_dtype(args, dtype, monitor)]
    monitor.conclude()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
