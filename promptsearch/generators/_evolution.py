"""One generation of evolutionary edit search: apply operators to ranked parents."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._operators import BaseOperator

__all__ = ["evolve"]

_logger = logging.getLogger(__name__)
_MARGIN = 4


def _operator_weights(ops: Sequence[BaseOperator], weights: Mapping[str, float] | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(ops))
    names = [op.name for op in ops]
    unknown = [k for k in weights if k not in names]
    if unknown:
        raise ConfigError(
            f"Operator weights name {unknown}, not among the operators given. {suggest(unknown[0], names)}"
        )
    w = np.array([float(weights.get(name, 1.0)) for name in names])
    if (w < 0).any() or not np.isfinite(w).all():
        raise ConfigError(f"Operator weights must be finite and >= 0, got {dict(weights)}.")
    return w


def evolve(
    parents: Sequence[Candidate],
    operators: Sequence[BaseOperator],
    *,
    n: int,
    seed: int,
    generation: int,
    exclude: Collection[str] = (),
    weights: Mapping[str, float] | None = None,
    per_call: int = 2,
    max_attempts: int | None = None,
) -> list[Candidate]:
    """Propose up to ``n`` new distinct candidates from ``parents`` (given best first).

    Each attempt picks an operator (uniformly, or in proportion to ``weights`` by operator
    name) and a parent, better-ranked parents more often (weight ``1 / (rank + 1)``);
    two-parent operators get two distinct parents. It keeps up to ``per_call`` proposals per attempt,
    those whose id is neither a parent's, in ``exclude`` nor already kept. The search
    stops after ``n`` candidates or ``max_attempts`` attempts (default ``10 * n + 10``), so
    operators that cannot produce anything end it early rather than looping forever.

    Args:
        parents: Candidates to edit, best first.
        operators: Operators to apply.
        n: Number of new candidates wanted.
        seed: Seed of every random choice (0 is a valid seed).
        generation: Written into every returned candidate's ``generation``.
        exclude: Ids already seen (e.g. every candidate scored so far).
        weights: Operator name -> relative weight (missing names weigh 1, 0 disables).
        per_call: Most proposals kept from one operator call.
        max_attempts: Bound on operator calls.

    Returns:
        New candidates in the order found; deterministic for a given seed.

    Example:
        >>> from promptsearch.generators import DeleteOperator, SwapOperator
        >>> seed_cand = Candidate("Read the review. Classify it.", "{text}\\nSentiment:{label}")
        >>> out = evolve([seed_cand], [DeleteOperator(), SwapOperator()], n=3, seed=0, generation=1)
        >>> len(out), {c.generation for c in out}
        (3, {1})
    """
    if n < 0 or per_call < 1:
        raise ConfigError(f"evolve needs n >= 0 and per_call >= 1, got n={n}, per_call={per_call}.")
    unique = list({p.id: p for p in parents}.values())
    op_weights = _operator_weights(operators, weights)
    usable = [i for i, op in enumerate(operators) if op_weights[i] > 0 and len(unique) >= op.arity]
    if n == 0 or not unique or not usable:
        _logger.debug(
            "evolve: nothing to do (n=%d, %d parents, %d usable operators)", n, len(unique), len(usable)
        )
        return []
    rng = np.random.default_rng(seed)
    op_p = op_weights[usable] / op_weights[usable].sum()
    rank_p = 1.0 / np.arange(1, len(unique) + 1)
    rank_p /= rank_p.sum()
    seen = set(exclude) | {p.id for p in unique}
    found: list[Candidate] = []
    attempts = 10 * n + 10 if max_attempts is None else max_attempts
    for attempt in range(attempts):
        if len(found) >= n:
            break
        op = operators[usable[int(rng.choice(len(usable), p=op_p))]]
        want = min(per_call, n - len(found))
        ask = want + _MARGIN  # some proposals may be excluded; ask for a few spare ones
        if op.arity == 2:
            i, j = rng.choice(len(unique), size=2, replace=False, p=rank_p)
            proposals = op.propose_pair(unique[int(i)], unique[int(j)], rng, ask)
        else:
            proposals = op.propose(unique[int(rng.choice(len(unique), p=rank_p))], rng, ask)
        new = [c for c in proposals if c.id not in seen][:want]
        seen.update(c.id for c in new)
        found += [dataclasses.replace(c, generation=generation) for c in new]
        _logger.debug("evolve: attempt %d, %s gave %d new of %d", attempt, op.name, len(new), len(proposals))
    _logger.debug("evolve: %d new candidates (wanted %d)", len(found), n)
    return found
