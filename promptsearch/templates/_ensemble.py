"""An ensemble of prompts (LM-BFF, PET): their log-probabilities over the answers, averaged.

A :class:`PromptEnsemble` is a :class:`~promptsearch.templates.Prompt`, so that it goes
wherever a prompt goes (scoring, evaluation, leaderboards, export, reload). It has no text of
its own: :func:`promptsearch.scoring.predict` scores each member and averages, per example,
the members' log-softmax over the labels (or the example's choices).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, NoReturn

from promptsearch.exceptions import TemplateError
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._prompt import Prompt

__all__ = ["PromptEnsemble", "prompt_fields"]

_NO_TEXT = (
    "A PromptEnsemble has no single text to render: score it with promptsearch.scoring.predict "
    "(which scores each member and averages), or render one of its members (ensemble.members[i])."
)


@dataclass(frozen=True, repr=False)
class PromptEnsemble(Prompt):
    """Several prompts whose scores are averaged: the mean over members of the log-softmax of
    each member's (calibrated, where it calibrates) scores over the labels or choices.

    Build it with :meth:`of`: the inherited fields (``template``, ``verbalizer``,
    ``instruction``, ...) are those of the first member, so that code which describes a prompt
    by them still works; the predictions come from all the members.

    Attributes:
        members: The prompts, in order (at least two; plain prompts, not ensembles). They must
            agree on the label words' labels and on being classification or choice prompts.

    Example:
        >>> labels = ["negative", "positive"]
        >>> a = Prompt.create("{text} It was{label}", "bad,good", labels)
        >>> b = Prompt.create("Review: {text}\\nSentiment:{label}", "negative,positive", labels)
        >>> ensemble = PromptEnsemble.of([a, b])
        >>> Prompt.from_dict(ensemble.to_dict()) == ensemble
        True
        >>> ensemble.template == a.template
        True
    """

    #: A dict with this key is an ensemble (see :meth:`Prompt.from_dict`).
    dict_key: ClassVar[str] = "ensemble"

    members: tuple[Prompt, ...] = ()

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise TemplateError(
                f"A prompt ensemble needs at least two member prompts, got {len(self.members)}; use the "
                "prompt itself instead of an ensemble of one, or build it with PromptEnsemble.of([...])."
            )
        for i, member in enumerate(self.members):
            if isinstance(member, PromptEnsemble):
                raise TemplateError(
                    f"Member {i} of the ensemble is itself an ensemble; flatten it: "
                    "PromptEnsemble.of([*a.members, *b.members])."
                )
            if not isinstance(member, Prompt):
                raise TemplateError(
                    f"Member {i} of the ensemble is a {type(member).__name__}, not a Prompt; build members "
                    "with Prompt.create(...) or Prompt.from_dict(...)."
                )
        first = self.members[0]
        for i, member in enumerate(self.members[1:], start=1):
            if member.template.generation != first.template.generation:
                raise TemplateError(
                    f"Members 0 and {i} of the ensemble disagree: one is a generation prompt (no {{label}} "
                    "slot); an ensemble averages scores over answers, so every member needs a {label} slot."
                )
            labels = None if member.verbalizer is None else tuple(member.verbalizer.labels)
            first_labels = None if first.verbalizer is None else tuple(first.verbalizer.labels)
            if labels != first_labels:
                raise TemplateError(
                    f"Members 0 and {i} of the ensemble score different labels ({first_labels} and "
                    f"{labels}); every member needs label words for the same labels, in the same order "
                    "(or none, for multiple choice)."
                )

    def __repr__(self) -> str:
        return f"PromptEnsemble(members={self.members!r})"

    @classmethod
    def of(cls, members: Iterable[Prompt]) -> PromptEnsemble:
        """The ensemble of ``members``, its inherited fields taken from the first member.

        Raises:
            TemplateError: for fewer than two members, a member that is an ensemble, or members
                that score different labels.
        """
        group = tuple(members)
        if not group:
            raise TemplateError("A prompt ensemble needs at least two member prompts, got none.")
        first = group[0]
        inherited = {f.name: getattr(first, f.name) for f in fields(Prompt)}
        return cls(**inherited, members=group)

    def check(self, task: Task) -> None:
        """Raise a clear error if a member does not fit ``task``, or if ``task`` generates texts."""
        if task.kind.output == "text":
            raise TemplateError(
                f"Task {task.name!r} is a {task.task_type} task: its prompts generate texts, but a prompt "
                "ensemble averages scores over labels or choices; use a single prompt."
            )
        for i, member in enumerate(self.members):
            try:
                member.check(task)
            except TemplateError as exc:
                raise TemplateError(f"Member {i} of the ensemble: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """``{"ensemble": [member dicts]}``; :meth:`Prompt.from_dict` reads it back."""
        return {self.dict_key: [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptEnsemble:
        """Inverse of :meth:`to_dict`."""
        members = data.get(cls.dict_key)
        if not isinstance(members, list):
            raise TemplateError(
                f'An ensemble dict needs an "{cls.dict_key}" list of member prompt dicts; got '
                f"{sorted(map(str, data))}."
            )
        return cls.of(Prompt.from_dict(m) for m in members)

    @property
    def id(self) -> str:
        """Hash of the members' ids, in order (another order is another ensemble)."""
        return self._hash({self.dict_key: [m.id for m in self.members]})

    @property
    def requests_id(self) -> str:
        """Hash of the members' :attr:`~Prompt.requests_id`, in order."""
        return self._hash({self.dict_key: [m.requests_id for m in self.members]})

    @property
    def prefix(self) -> str:
        raise TemplateError(_NO_TEXT)

    def prefix_with(self, demonstrations: Sequence[Example]) -> NoReturn:
        raise TemplateError(_NO_TEXT)

    def instance(self, inputs: dict[str, str] | Example, prefix: str | None = None) -> NoReturn:
        raise TemplateError(_NO_TEXT)

    def instances(self, examples: Sequence[Example]) -> NoReturn:
        raise TemplateError(_NO_TEXT)

    def content_free_instances(self) -> NoReturn:
        raise TemplateError(_NO_TEXT)


def prompt_fields(prompt: Prompt) -> tuple[str, ...]:
    """The input fields ``prompt`` reads: its template's, or every member's for an ensemble
    (in first-seen order).

    Example:
        >>> prompt_fields(Prompt.create("{title}: {text}{label}", "bad,good", ["neg", "pos"]))
        ('title', 'text')
    """
    if isinstance(prompt, PromptEnsemble):
        return tuple(dict.fromkeys(f for m in prompt.members for f in m.template.fields))
    return tuple(prompt.template.fields)
