"""The few-shot protocol (LM-BFF): one search per seed split, with baselines on the same splits."""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError
from promptsearch.study import SQLiteScoreCache
from promptsearch.templates import Prompt, Template, Verbalizer

if TYPE_CHECKING:
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import Task

__all__ = ["MethodResult", "ProtocolResult", "run_protocol"]

_logger = logging.getLogger(__name__)


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
    """Mean (std) of a test metric over seeds, for baselines and promptsearch."""

    task: str
    model: str
    k: int
    seeds: tuple[int, ...]
    test_n: int
    methods: tuple[MethodResult, ...]
    metric: str = "accuracy"

    def markdown(self) -> str:
        head = f"| method | mean (std) | {' | '.join(f'seed {s}' for s in self.seeds)} |"
        sep = "|---|---|" + "---|" * len(self.seeds)
        lines = [
            f"Task {self.task}, model {self.model}, K={self.k} per class, test n={self.test_n}; "
            f"test {self.metric} x100.",
            "",
            head,
            sep,
        ]
        for m in self.methods:
            cells = " | ".join(f"{100 * m.per_seed[s]:.1f}" for s in self.seeds)
            lines.append(f"| {m.method} | {100 * m.mean:.1f} ({100 * m.std:.1f}) | {cells} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for m, d in zip(self.methods, out["methods"]):
            d["mean"], d["std"] = m.mean, m.std
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolResult:
        """Rebuild a result saved with :meth:`to_dict` (``protocol.json``)."""
        methods = tuple(
            MethodResult(
                str(m["method"]),
                {int(k): float(v) for k, v in m["per_seed"].items()},
                {int(k): dict(v) for k, v in m.get("prompts", {}).items()},
            )
            for m in data["methods"]
        )
        return cls(
            str(data["task"]),
            str(data["model"]),
            int(data["k"]),
            tuple(int(s) for s in data["seeds"]),
            int(data["test_n"]),
            methods,
            str(data.get("metric", "accuracy")),
        )

    @classmethod
    def merge(cls, parts: Sequence[ProtocolResult]) -> ProtocolResult:
        """Combine runs of the same protocol on different seeds (e.g. one process per seed).

        Raises:
            ConfigError: if the parts differ in task, model, k, test size or methods, or
                share a seed.
        """
        if not parts:
            raise ConfigError("Nothing to merge: give at least one protocol result.")
        first = parts[0]
        seeds: list[int] = []
        for part in parts:
            same = (part.task, part.model, part.k, part.test_n, [m.method for m in part.methods], part.metric)
            if same != (
                first.task,
                first.model,
                first.k,
                first.test_n,
                [m.method for m in first.methods],
                first.metric,
            ):
                raise ConfigError(
                    f"Cannot merge protocol results of different setups: {same[:4]} vs "
                    f"{(first.task, first.model, first.k, first.test_n)} (or different methods)."
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
        return cls(first.task, first.model, first.k, tuple(seeds), first.test_n, methods, first.metric)


def _manual_prompts(space: SearchSpace, task: Task) -> list[Prompt]:
    """Every seed template with every given verbalizer (none for tasks without label words)."""
    labels = task.label_names
    verbs: list[Verbalizer | None] = [None]
    if task.kind.label_words:
        verbs = [Verbalizer.parse(v, labels) for v in space.verbalizers.candidates] or [
            Verbalizer.from_mapping(task.verbalizer_or_default(), labels)
        ]
    return [
        Prompt(Template(s.template, generation=not task.kind.answer_slot), v, instruction=s.instruction)
        for s in space.templates.seeds
        for v in verbs
    ]


def run_protocol(
    space: SearchSpace,
    *,
    seeds: Sequence[int],
    out_dir: str | Path,
    task: Any = None,
    model: Any = None,
    n_trials: int | None = None,
    storage: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str | None = None,
    progress: bool = False,
    n_demos_icl: int = 4,
) -> ProtocolResult:
    """Run baselines and one search per seed; the same model, splits and test examples for all.

    Baselines (test value of the metric of the prompt chosen on dev, per seed):
      * zero-shot manual: the first seed template with the first verbalizer candidate;
      * best manual: the best on dev of every seed template x verbalizer candidate;
      * in-context: best manual plus ``n_demos_icl`` random training demonstrations.
    """
    from promptsearch.backends import load_backend
    from promptsearch.demonstrations import order_demonstrations, select_random
    from promptsearch.engine import DevObjective, PromptSearch
    from promptsearch.evaluation import evaluate_prompt
    from promptsearch.metrics import get_metric
    from promptsearch.tasks import few_shot_split, load_task

    out = Path(out_dir)
    space = space.with_task(task) if task is not None else space
    spec = space.require_task()
    task_obj = load_task(spec.name_or_path, **spec.loader_kwargs())
    space.check_task_type(task_obj.task_type)
    metric = get_metric(space.metric or task_obj.metric)
    scorer = load_backend(
        space.backend.name,
        model if model is not None else space.model,
        dtype=dtype or space.dtype,
        device=device,
        batch_size=batch_size or space.batch_size,
        **dict(space.backend.options),
    )
    cache = SQLiteScoreCache(out / "scores.sqlite")
    manual = _manual_prompts(space, task_obj)
    sign = 1.0 if metric.direction == "maximize" else -1.0
    results: dict[str, dict[int, float]] = {
        m: {} for m in ("zero-shot manual", "best manual", "in-context (best manual + demos)", "promptsearch")
    }
    prompts: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in results}
    test_n = 0
    for seed in seeds:
        split = few_shot_split(task_obj, k=space.split.k, seed=seed).shorten(spec.max_words)
        limit = space.final.test_limit
        test = list(split.test)[:limit] if limit else list(split.test)
        test_n = len(test)
        dev = DevObjective(scorer, task_obj, split.dev, metric, cache=cache, seed=seed)
        dev_scores = [dev.full(p)[0] for p in manual]
        best = manual[max(range(len(manual)), key=lambda i: (sign * dev_scores[i], -i))]
        demos = order_demonstrations(select_random(split.train, n_demos_icl, seed=seed), "random", seed)
        icl = Prompt(best.template, best.verbalizer, instruction=best.instruction, demonstrations=demos)
        for method, prompt in (
            ("zero-shot manual", manual[0]),
            ("best manual", best),
            ("in-context (best manual + demos)", icl),
        ):
            res = evaluate_prompt(scorer, prompt, task_obj, test, cache=cache, metric=metric.name)
            results[method][seed] = res.score
            prompts[method][seed] = prompt.to_dict()
            _logger.info("seed %d %s: test %s %.3f", seed, method, metric.name, res.score)
        search = PromptSearch(
            space,
            task=task_obj,
            model=scorer,
            seed=seed,
            n_trials=n_trials,
            storage=storage,
            out_dir=out / f"seed{seed}",
            cache=cache,
            callbacks=_progress_callbacks(progress, seed, space.total_trials(n_trials)),
        )
        search.fit()
        row = search.leaderboard_.best
        results["promptsearch"][seed] = float(row.test_score or 0.0)
        prompts["promptsearch"][seed] = row.prompt
        _logger.info("seed %d promptsearch: test %s %.3f", seed, metric.name, row.test_score or 0.0)
    protocol = ProtocolResult(
        task=task_obj.name,
        model=scorer.name,
        k=space.split.k,
        seeds=tuple(seeds),
        test_n=test_n,
        methods=tuple(MethodResult(m, results[m], prompts[m]) for m in results),
        metric=metric.name,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.md").write_text(protocol.markdown() + "\n", encoding="utf-8")
    (out / "protocol.json").write_text(
        json.dumps(protocol.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return protocol


def _progress_callbacks(enabled: bool, seed: int, total: int) -> list[Any]:
    if not enabled:
        return []
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"seed {seed}", unit="trial")

    def callback(study: Any, trial: Any) -> None:
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return [callback]
