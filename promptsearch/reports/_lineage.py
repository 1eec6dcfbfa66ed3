"""The winner's lineage: its candidate's ancestors through every generation's pool, back to the seeds."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptsearch.reports._records import LeaderboardRow
from promptsearch.study import StudyAttr

__all__ = ["Lineage", "LineageNode", "build_lineage", "pool_candidates"]

_logger = logging.getLogger(__name__)


#: Origins that start a lineage: nothing was derived to produce them.
ROOT_ORIGINS = frozenset({"seed", "grammar"})


@dataclass(frozen=True)
class LineageNode:
    """One candidate of the lineage.

    Attributes:
        id: Candidate id (content hash of instruction and template).
        instruction, template: The candidate's text.
        origin: ``seed``, ``grammar`` or the operator that produced it (``unknown`` when the
            candidate is missing from the stored pools).
        detail: The operator's description of its edit.
        generation: Generation the candidate first appeared in.
        best_value: Best objective of a completed trial that used it (``None``: never scored).
        parents: Ids of the candidates it was derived from.
    """

    id: str
    instruction: str
    template: str
    origin: str
    detail: str
    generation: int
    best_value: float | None
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lineage:
    """Ancestry of the winner: nodes (winner first) and ``(parent, child)`` edges.

    ``missing`` lists ancestor ids found in no pool (e.g. a study whose pools were not stored).
    """

    root: str
    nodes: tuple[LineageNode, ...]
    edges: tuple[tuple[str, str], ...]
    missing: tuple[str, ...] = ()

    def node(self, cid: str) -> LineageNode | None:
        return next((n for n in self.nodes if n.id == cid), None)

    @property
    def reaches_root(self) -> bool:
        """Whether some ancestor (or the winner itself) is a seed or grammar sample."""
        return any(n.origin in ROOT_ORIGINS for n in self.nodes)


def pool_candidates(user_attrs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every candidate of the ``pool_g{N}`` study attributes by id (earliest generation wins).

    Parents are carried into later pools, where their ``detail`` is lost; the first entry keeps it.
    """
    keys = sorted((g, k) for k in user_attrs if (g := StudyAttr.pool_generation(k)) is not None)
    out: dict[str, dict[str, Any]] = {}
    for _, key in keys:
        try:
            items = json.loads(user_attrs[key])
        except (TypeError, ValueError):
            _logger.warning("Study attribute %s is not a JSON list of candidates; skipped.", key)
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or "id" not in item:
                continue
            known = out.get(str(item["id"]))
            if known is None:
                out[str(item["id"])] = item
            elif not known.get("detail") and item.get("detail"):
                known["detail"] = item["detail"]
    return out


def build_lineage(
    user_attrs: Mapping[str, Any], winner: LeaderboardRow | None, best_values: Mapping[str, float]
) -> Lineage:
    """Walk ``parents`` from the winner's candidate back to candidates without parents.

    Args:
        user_attrs: The study's user attributes (holding ``pool_g{N}``).
        winner: The leaderboard's first row (``None`` gives an empty lineage).
        best_values: Best completed-trial objective by candidate id.
    """
    if winner is None:
        return Lineage("", (), ())
    pools = pool_candidates(user_attrs)
    nodes: dict[str, LineageNode] = {}
    edges: list[tuple[str, str]] = []
    missing: list[str] = []
    queue = [winner.candidate_id]
    while queue:
        cid = queue.pop(0)
        if cid in nodes:
            continue
        item = pools.get(cid)
        if item is None and cid == winner.candidate_id:
            item = {
                "instruction": winner.instruction,
                "template": winner.template,
                "origin": winner.origin,
                "parents": list(winner.parents),
                "generation": winner.generation,
                "detail": "",
            }
        if item is None:
            missing.append(cid)
            item = {"instruction": "", "template": "", "origin": "unknown", "parents": [], "generation": -1}
        parents = tuple(str(p) for p in item.get("parents", ()) or ())
        nodes[cid] = LineageNode(
            id=cid,
            instruction=str(item.get("instruction") or ""),
            template=str(item.get("template", "")),
            origin=str(item.get("origin", "unknown")),
            detail=str(item.get("detail") or ""),
            generation=int(item.get("generation", 0)),
            best_value=best_values.get(cid),
            parents=parents,
        )
        for parent in parents:
            edges.append((parent, cid))
            queue.append(parent)
    return Lineage(winner.candidate_id, tuple(nodes.values()), tuple(edges), tuple(missing))
