"""Candidate prompts: an instruction and a template, with where they came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from promptsearch.templates._template import parse_template

__all__ = ["Candidate"]


@dataclass(frozen=True)
class Candidate:
    """A discrete prompt candidate: what the search chooses among.

    Attributes:
        instruction: Text placed once before demonstrations and the example (may be empty).
        template: Template source with ``{field}`` slots and one ``{label}`` (none for
            generation tasks, whose answer follows the template).
        origin: What produced it: ``seed``, ``grammar`` or an operator name (``delete``,
            ``swap``, ``add``, ``substitute``, ``crossover``, ``rewrite``).
        parents: Ids of the candidates it was derived from.
        generation: Evolution generation it first appeared in.
        detail: Free-form description of the edit (e.g. ``"deleted 'very'"``).
    """

    instruction: str
    template: str
    origin: str = "seed"
    parents: tuple[str, ...] = ()
    generation: int = 0
    detail: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        parse_template(self.template)  # validates: raises TemplateError on a bad template

    @property
    def id(self) -> str:
        """Content hash of the instruction and template only (not of the lineage)."""
        payload = json.dumps([self.instruction.strip(), self.template])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instruction": self.instruction,
            "template": self.template,
            "origin": self.origin,
            "parents": list(self.parents),
            "generation": self.generation,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(
            instruction=data.get("instruction", ""),
            template=data["template"],
            origin=data.get("origin", "seed"),
            parents=tuple(data.get("parents", ())),
            generation=int(data.get("generation", 0)),
            detail=data.get("detail", ""),
        )
