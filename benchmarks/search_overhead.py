"""Cost per scored example inside a search against the scorer's own rate on the same requests.

Runs a real search (a search space, a trial budget, an empty in-memory cache) through the Python
API and records every request the backend answers, with the phase it came in: the trials, or
the final evaluation (top prompts re-scored on the selection examples, then on test). Then it
replays each phase's requests through the same backend, prefix store emptied first, twice
over: call by call as the search made them, and all in one call (the scorer's best case, as
in ``vs_lm_eval.py``). That is the scorer's benchmark rate for exactly those prompts and
examples. It prints, per phase, the scored examples, the seconds and examples/s inside the
search and in each replay, and the ratio of the search's seconds per example to the faster
replay's (the bar is <= 1.5x).

What the ratio holds: everything the search does around the scorer (Optuna's sampler and
storage, the pruner's chunks, cache lookups, prompt rendering, metric updates, report rows),
and the shape of the scorer calls: chunks of ``pruner.chunk_size`` examples per prompt in the
trials, against all of a phase's requests in one call.

    python benchmarks/search_overhead.py --space search_spaces/movies.yaml --trials 20 \\
        --test-limit 100 --dtype bfloat16

Time nothing else on the cores meanwhile: like ``vs_lm_eval.py`` it refuses to report (exit 3)
when other processes used more than 10% of the cores during a timed part.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_lm_eval import CoreMonitor, cores_busy_now

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """Wraps a backend class's ``loglikelihood`` and ``generate``, logging requests by phase."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.calls: dict[str, list[tuple[str, tuple[Any, ...], Any]]] = defaultdict(list)

    def install(self, cls: type) -> None:
        ll, gen = cls.loglikelihood, cls.generate
        rec = self

        def loglikelihood(self: Any, requests: Any, progress: Any = None) -> Any:
            rec.calls[rec.phase].append(("loglikelihood", tuple(requests), None))
            return ll(self, requests, progress)

        def generate(self: Any, requests: Any, settings: Any, progress: Any = None) -> Any:
            rec.calls[rec.phase].append(("generate", tuple(requests), settings))
            return gen(self, requests, settings, progress)

        cls.loglikelihood, cls.generate = loglikelihood, generate  # type: ignore[method-assign]

    def n(self, phase: str) -> int:
        return sum(len(reqs) for _, reqs, _ in self.calls[phase])


def replay(backend: Any, calls: list[tuple[str, tuple[Any, ...], Any]], *, merged: bool) -> float:
    """Answer the same requests again, prefix store emptied first: seconds.

    ``merged``: in one call per kind (and generation settings), the scorer's best case; else
    call by call as the search made them (the prefix store kept between calls, as in the search).
    """
    groups: list[tuple[str, list[Any], Any]] = []
    if merged:
        by_key: dict[Any, list[Any]] = defaultdict(list)
        for kind, reqs, settings in calls:
            by_key[(kind, settings)].extend(reqs)
        groups = [(kind, reqs, settings) for (kind, settings), reqs in by_key.items()]
    else:
        groups = [(kind, list(reqs), settings) for kind, reqs, settings in calls]
    prefixes = getattr(backend, "prefixes", None)
    if prefixes is not None:
        prefixes.clear()
    start = time.perf_counter()
    for kind, reqs, settings in groups:
        if kind == "loglikelihood":
            backend.loglikelihood(reqs)
        else:
            backend.generate(reqs, settings)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(ROOT / "search_spaces" / "movies.yaml"))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--test-limit", type=int, default=100)
    ap.add_argument("--top", type=int, default=None)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--model", default=None)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--repeats", type=int, default=2, help="replays per phase (the best counts)")
    ap.add_argument("--allow-busy", action="store_true", help="report even when the cores were busy (marked)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import promptsearch.engine._search as search_module
    from promptsearch.backends._hf_causal import HFCausalBackend
    from promptsearch.search import MemoryScoreCache, PromptSearch

    busy = cores_busy_now()
    if busy > 0.10 and not args.allow_busy:
        print(f"REFUSED: other processes use {busy:.0%} of the cores now; run on idle cores.")
        sys.exit(3)

    rec = Recorder()
    rec.install(HFCausalBackend)
    original = search_module.timed

    @contextmanager
    def timed(phases: dict[str, float], name: str) -> Any:
        rec.phase = name
        with original(phases, name):
            yield
        rec.phase = "final" if name == "trials" else "setup"

    search_module.timed = timed  # type: ignore[assignment]
    monitor = CoreMonitor()
    monitor.calibrate()
    search = PromptSearch(
        args.space,
        model=args.model,
        seed=args.seed,
        n_trials=args.trials,
        cache=MemoryScoreCache(),
        dtype=args.dtype,
        test_limit=args.test_limit,
        top=args.top,
    )
    with monitor.run("search"):
        search.fit()
    phases = search.leaderboard_.metadata["phases"]
    backend = search.backend_
    print(f"search: {args.space}, {args.trials} trials, seed {args.seed}, {args.dtype}")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    lines = []
    rec.phase = "replay"  # the replays are not recorded
    for phase in ("trials", "final"):
        n, calls = rec.n(phase), rec.calls[phase]
        if n == 0:
            print(f"[{phase}] no request reached the backend")
            continue
        best = {"same calls": float("inf"), "one call": float("inf")}
        for r in range(args.repeats):
            for mode in best:
                with monitor.run(f"replay {phase} {mode} {r}"):
                    best[mode] = min(best[mode], replay(backend, calls, merged=mode == "one call"))
        in_search = float(phases[phase])
        print(
            f"[{phase}] {n} scored examples in {len(calls)} backend calls: in the search "
            f"{in_search:.1f} s ({n / in_search:.1f} ex/s); scorer replay, the same calls "
            f"{best['same calls']:.1f} s ({n / best['same calls']:.1f} ex/s), in one call "
            f"{best['one call']:.1f} s ({n / best['one call']:.1f} ex/s)"
        )
        ratio = in_search / min(best.values())
        print(f"[{phase}] search cost per example / scorer's best rate = {ratio:.2f}x (bar: <= 1.5x)")
        same, one = in_search / best["same calls"], in_search / best["one call"]
        lines.append(
            f"search_overhead {phase} {args.dtype} ratio={ratio:.2f} "
            f"same_calls={same:.2f} one_call={one:.2f} n={n}"
        )
    monitor.finish()
    if monitor.busy_runs and args.allow_busy:
        print("NOT IDLE (figures disturbed): the cores were busy during " + "; ".join(monitor.busy_runs))
    elif monitor.busy_runs:
        print("REFUSED: the cores were busy during " + "; ".join(monitor.busy_runs))
        sys.exit(3)
    else:
        print(f"cores idle during every timed part (others used at most {monitor.worst:.0%} of them)")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
