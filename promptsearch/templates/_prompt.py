"""A complete prompt: template, verbalizer, instruction, demonstrations and calibration."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptsearch.demonstrations._selectors import DemoSelector, selector_from_dict
from promptsearch.exceptions import TemplateError
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._template import Template, join_label
from promptsearch.templates._verbalizer import Verbalizer

__all__ = ["CONTENT_FREE_INPUTS", "Prompt", "PromptInstance"]

#: Content-free inputs for contextual calibration (Zhao et al., 2021).
CONTENT_FREE_INPUTS: tuple[str, ...] = ("N/A", "", "[MASK]")


@dataclass(frozen=True)
class PromptInstance:
    """One example rendered by a prompt, ready for a scorer.

    Attributes:
        prefix: Text shared by every example of the prompt (instruction and demonstrations);
            a scorer may compute it once.
        context: The example's own text up to the label slot.
        suffix: Text after the label slot (used by masked and seq2seq scorers).
        choices: Continuations to score after ``prefix + context``, one per label word.
        choice_labels: Label index of each choice.
    """

    prefix: str
    context: str
    suffix: str
    choices: tuple[str, ...]
    choice_labels: tuple[int, ...]

    @property
    def full_context(self) -> str:
        return self.prefix + self.context


@dataclass(frozen=True)
class Prompt:
    """Everything that turns an example into a scored prediction.

    Attributes:
        template: The per-example template with its ``{label}`` slot.
        verbalizer: Label words of each class.
        instruction: Text placed once before the demonstrations and the query.
        demonstrations: Labelled training examples shown in the prompt, in order.
        calibrate: Apply contextual calibration with content-free inputs.
        separator: Text between instruction, demonstrations and the query.
        selector: Chooses demonstrations per query (e.g. the most similar training examples);
            used instead of ``demonstrations`` when given.
    """

    template: Template
    verbalizer: Verbalizer
    instruction: str = ""
    demonstrations: tuple[Example, ...] = ()
    calibrate: bool = False
    separator: str = "\n\n"
    selector: DemoSelector | None = field(default=None, compare=False)

    @classmethod
    def create(
        cls,
        template: str | Template,
        verbalizer: str | Verbalizer | dict[str, Any],
        labels: Sequence[str],
        **kwargs: Any,
    ) -> Prompt:
        """Build a prompt from strings: ``Prompt.create("{text} It was{label}", "bad,good", labels)``."""
        tpl = template if isinstance(template, Template) else Template(template)
        if isinstance(verbalizer, Verbalizer):
            verb = verbalizer
        elif isinstance(verbalizer, dict):
            verb = Verbalizer.from_mapping(verbalizer, labels)
        else:
            verb = Verbalizer.parse(verbalizer, labels)
        return cls(tpl, verb, **kwargs)

    def check(self, task: Task) -> None:
        """Raise a clear error if this prompt does not fit ``task``."""
        self.template.check_fields(task.input_fields)
        if tuple(self.verbalizer.labels) != tuple(task.label_names):
            raise TemplateError(
                f"The verbalizer covers labels {list(self.verbalizer.labels)} but task {task.name!r} has "
                f"{list(task.label_names)}; give one word per task label, in that order."
            )

    @property
    def prefix(self) -> str:
        """The shared text: instruction and demonstrations, each followed by the separator."""
        return self.prefix_with(self.demonstrations)

    def prefix_with(self, demonstrations: Sequence[Example]) -> str:
        """The instruction and the given demonstrations, each followed by the separator."""
        pieces = [self.instruction.strip()] if self.instruction.strip() else []
        for demo in demonstrations:
            word = self.verbalizer.words(demo.label)[0]
            pieces.append(self.template.fill(demo.inputs, word).strip())
        return "".join(p + self.separator for p in pieces)

    def instance(self, inputs: dict[str, str] | Example, prefix: str | None = None) -> PromptInstance:
        """Render one example (or raw inputs) into a :class:`PromptInstance`."""
        fields = inputs.inputs if isinstance(inputs, Example) else inputs
        if self.selector is not None:
            prefix = self.prefix_with(self.selector.select(inputs))
        rendered = self.template.render(fields)
        context = rendered.context
        choices, labels = [], []
        for idx, word in self.verbalizer.pairs():
            choices.append(join_label(context, word))
            labels.append(idx)
        return PromptInstance(
            prefix=self.prefix if prefix is None else prefix,
            context=context,
            suffix=rendered.suffix,
            choices=tuple(choices),
            choice_labels=tuple(labels),
        )

    def instances(self, examples: Sequence[Example]) -> list[PromptInstance]:
        """Render many examples, computing the shared prefix once."""
        prefix = self.prefix
        return [self.instance(ex, prefix=prefix) for ex in examples]

    def content_free_instances(self) -> list[PromptInstance]:
        """Instances with every field set to a content-free input, for calibration."""
        prefix = self.prefix
        return [
            self.instance(dict.fromkeys(self.template.fields, value), prefix=prefix)
            for value in CONTENT_FREE_INPUTS
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description (demonstrations by id and content)."""
        return {
            "template": self.template.source,
            "verbalizer": self.verbalizer.to_dict(),
            "instruction": self.instruction,
            "demonstrations": [
                {"id": d.id, "inputs": dict(d.inputs), "label": d.label} for d in self.demonstrations
            ],
            "calibrate": self.calibrate,
            "separator": self.separator,
            "selector": self.selector.to_dict() if self.selector is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        """Inverse of :meth:`to_dict`."""
        verb = data["verbalizer"]
        labels = list(verb)
        return cls(
            template=Template(data["template"]),
            verbalizer=Verbalizer.from_mapping(verb, labels),
            instruction=data.get("instruction", ""),
            demonstrations=tuple(
                Example(id=d["id"], inputs=d["inputs"], label=d["label"])
                for d in data.get("demonstrations", [])
            ),
            calibrate=bool(data.get("calibrate", False)),
            separator=data.get("separator", "\n\n"),
            selector=selector_from_dict(data["selector"]) if data.get("selector") else None,
        )

    @property
    def id(self) -> str:
        """Content hash of everything that affects scores."""
        payload = self.to_dict()
        payload["demonstrations"] = [d["id"] for d in payload["demonstrations"]]
        payload["selector"] = self.selector.id if self.selector is not None else None
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
