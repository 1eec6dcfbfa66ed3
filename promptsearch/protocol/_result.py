"""The protocol's table: test values per method and seed, and promptsearch's paired gains."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.metrics import ACCURACY, PairedGain, direction_sign, get_metric

__all__ = [
    "BASELINES",
    "BEST_MANUAL",
    "DEFAULT_TEMPLATE",
    "DEFAULT_TOLERANCE",
    "IN_CONTEXT",
    "PROMPTSEARCH",
    "MethodResult",
    "ProtocolResult",
]

#: The protocol's method names (stable: tables, ``protocol.json`` and scripts read them).
DEFAULT_TEMPLATE = "default template (zero-shot)"
BEST_MANUAL = "best manual"
IN_CONTEXT = "in-context (default template + demos)"
PROMPTSEARCH = "promptsearch"
BASELINES = (DEFAULT_TEMPLATE, BEST_MANUAL, IN_CONTEXT)

#: How far below the default template promptsearch may fall on test, on any seed (2 points).
DEFAULT_TOLERANCE = 0.02


@dataclass(frozen=True)
class MethodResult:
    """Test value of the protocol's metric for one method on each seed split."""

    method: str
    per_seed: dict[int, float]
    prompts: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.per_seed.values())

    @property
    def std(self) -> float:
        values = list(self.per_seed.values())
        return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class ProtocolResult:
    """Mean (std) of a test metric over seeds, for baselines and promptsearch.

    Attributes:
        gains: Baseline method -> seed -> promptsearch's paired gain over it on the seed's test
            examples (``metric(promptsearch) - metric(baseline)``, with a 95% paired bootstrap
            interval). Empty in results saved before gains were recorded.
        direction: The metric's direction (``maximize`` or ``minimize``).
    """

    task: str
    model: str
    k: int
    seeds: tuple[int, ...]
    test_n: int
    methods: tuple[MethodResult, ...]
    metric: str = ACCURACY
    gains: dict[str, dict[int, PairedGain]] = field(default_factory=dict)
    direction: str = "maximize"

    # -- comparisons ---------------------------------------------------------------------------
    @property
    def baselines(self) -> tuple[MethodResult, ...]:
        """Every method but promptsearch, in table order."""
        return tuple(m for m in self.methods if m.method != PROMPTSEARCH)

    @property
    def strongest_baseline(self) -> str | None:
        """The baseline with the best mean over seeds (the first listed on a tie)."""
        sign = direction_sign(self.direction)
        best: MethodResult | None = None
        for m in self.baselines:
            if m.per_seed and (best is None or sign * m.mean > sign * best.mean):
                best = m
        return best.method if best is not None else None

    def mean_gain(self, baseline: str) -> float | None:
        """promptsearch's gain over ``baseline`` averaged over the seeds that have one."""
        per_seed = self.gains.get(baseline, {})
        return statistics.fmean(g.gain for g in per_seed.values()) if per_seed else None

    def worst_seed_vs_default(self) -> tuple[int, float] | None:
        """The seed where promptsearch fares worst against the default template, and its gain
        (signed so that a positive value is better, whatever the metric's direction)."""
        per_seed = self.gains.get(DEFAULT_TEMPLATE, {})
        if not per_seed:
            return None
        sign = direction_sign(self.direction)
        seed = min(per_seed, key=lambda s: (sign * per_seed[s].gain, s))
        return seed, sign * per_seed[seed].gain

    # -- rendering -----------------------------------------------------------------------------
    def _k_text(self) -> str:
        """``K=16 per class``, or ``K=16 train and dev examples`` for metrics of generated text."""
        try:
            text = "text" in get_metric(self.metric).kinds
        except PromptSearchError:  # a metric registered by a plugin that is not loaded here
            text = False
        return f"K={self.k} train and dev examples" if text else f"K={self.k} per class"

    def markdown(self) -> str:
        head = f"| method | mean (std) | {' | '.join(f'seed {s}' for s in self.seeds)} |"
        sep = "|---|---|" + "---|" * len(self.seeds)
        lines = [
            f"Task {self.task}, model {self.model}, {self._k_text()}, test n={self.test_n}; "
            f"test {self.metric} x100.",
            "",
            head,
            sep,
        ]
        for m in self.methods:
            cells = " | ".join(f"{100 * m.per_seed[s]:.1f}" if s in m.per_seed else "–" for s in self.seeds)
            lines.append(f"| {m.method} | {100 * m.mean:.1f} ({100 * m.std:.1f}) | {cells} |")
        strongest = self.strongest_baseline
        if not self.gains or strongest is None:
            return "\n".join(lines)
        lines.append(self._gain_row(f"gain over strongest ({_short(strongest)})", strongest))
        lines.append(self._gain_row(f"gain over {_short(DEFAULT_TEMPLATE)}", DEFAULT_TEMPLATE))
        mean = next(m.mean for m in self.methods if m.method == strongest)
        better = "higher" if self.direction == "maximize" else "lower"
        lines += [
            "",
            f"Strongest baseline: {strongest}, the best mean over seeds ({100 * mean:.1f}). Gains: "
            f"promptsearch minus the baseline on the same test examples, x100, with a 95% paired "
            f"bootstrap interval over the examples ({better} {self.metric} is better).",
        ]
        worst = self.worst_seed_vs_default()
        if worst is not None:
            seed, gain = worst
            met = "met" if gain >= -DEFAULT_TOLERANCE - 1e-12 else "NOT met"
            lines.append(
                f"Bar (promptsearch never more than {100 * DEFAULT_TOLERANCE:.0f} points worse than the "
                f"default template on test): {met}; worst seed {seed}: {100 * gain:+.1f}."
            )
        return "\n".join(lines)

    def _gain_row(self, label: str, baseline: str) -> str:
        per_seed = self.gains.get(baseline, {})
        mean = self.mean_gain(baseline)
        cells = [
            f"{100 * g.gain:+.1f} [{100 * g.low:+.1f}, {100 * g.high:+.1f}]"
            if (g := per_seed.get(s)) is not None
            else "–"
            for s in self.seeds
        ]
        return f"| {label} | {'–' if mean is None else f'{100 * mean:+.1f}'} | {' | '.join(cells)} |"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for m, d in zip(self.methods, out["methods"]):
            d["mean"], d["std"] = m.mean, m.std
        out["strongest_baseline"] = self.strongest_baseline
        out["mean_gains"] = {b: self.mean_gain(b) for b in self.gains}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolResult:
        """Rebuild a result saved with :meth:`to_dict` (``protocol.json``, gains optional)."""
        methods = tuple(
            MethodResult(
                str(m["method"]),
                {int(k): float(v) for k, v in m["per_seed"].items()},
                {int(k): dict(v) for k, v in m.get("prompts", {}).items()},
            )
            for m in data["methods"]
        )
        gains = {
            str(b): {
                int(s): PairedGain(
                    float(g["gain"]), float(g["low"]), float(g["high"]), float(g["p_value"]), int(g["n"])
                )
                for s, g in per_seed.items()
            }
            for b, per_seed in data.get("gains", {}).items()
        }
        return cls(
            str(data["task"]),
            str(data["model"]),
            int(data["k"]),
            tuple(int(s) for s in data["seeds"]),
            int(data["test_n"]),
            methods,
            str(data.get("metric", ACCURACY)),
            gains,
            str(data.get("direction", "maximize")),
        )

    @classmethod
    def merge(cls, parts: Sequence[ProtocolResult]) -> ProtocolResult:
        """Combine runs of the same protocol on different seeds (e.g. one process per seed).

        Gains carry over per seed; the strongest baseline is chosen again over all the seeds. The
        merged seeds are in ascending order, whatever the order of the parts.

        Raises:
            ConfigError: if the parts differ in task, model, k, test size, methods or metric,
                or share a seed.
        """
        if not parts:
            raise ConfigError("Nothing to merge: give at least one protocol result.")
        first = parts[0]
        setup = _setup(first)
        seeds: list[int] = []
        for part in parts:
            if _setup(part) != setup:
                raise ConfigError(
                    f"Cannot merge protocol results of different setups: {_setup(part)[:4]} vs {setup[:4]} "
                    "(or different methods or metric); merge only runs of the same space, model and test set."
                )
            overlap = set(seeds) & set(part.seeds)
            if overlap:
                raise ConfigError(f"Seeds {sorted(overlap)} appear in several results; keep one of each.")
            seeds.extend(part.seeds)
        methods = tuple(
            MethodResult(
                m.method,
                {s: v for part in parts for s, v in part.methods[i].per_seed.items()},
                {s: v for part in parts for s, v in part.methods[i].prompts.items()},
            )
            for i, m in enumerate(first.methods)
        )
        baselines = list(dict.fromkeys(b for part in parts for b in part.gains))
        gains = {b: {s: g for part in parts for s, g in part.gains.get(b, {}).items()} for b in baselines}
        return cls(
            first.task,
            first.model,
            first.k,
            tuple(sorted(seeds)),
            first.test_n,
            methods,
            first.metric,
            gains,
            first.direction,
        )


def _setup(result: ProtocolResult) -> tuple[Any, ...]:
    return (
        result.task,
        result.model,
        result.k,
        result.test_n,
        [m.method for m in result.methods],
        result.metric,
        result.direction,
    )


def _short(method: str) -> str:
    """A method's name without its parenthesised detail: ``in-context (...)`` -> ``in-context``."""
    return method.split(" (")[0]
