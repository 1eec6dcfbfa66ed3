"""A complete prompt: template, verbalizer, instruction, demonstrations and calibration.

The same record serves every task type: classification prompts have a verbalizer (label
words at the ``{label}`` slot), multiple-choice prompts score each example's own choices at
that slot, and generation prompts end where the generated answer starts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from promptsearch.demonstrations._selectors import (
    DemoSelector,
    example_dict,
    example_from_dict,
    selector_from_dict,
)
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
        context: The example's own text up to the label slot (generation: the whole text the
            answer is generated after).
        suffix: Text after the label slot (used by masked and seq2seq scorers).
        choices: Continuations to score after ``prefix + context``: one per label word
            (classification) or per answer choice (multiple choice); none for generation.
        choice_labels: Label (or choice) index of each continuation.
    """

    prefix: str
    context: str
    suffix: str
    choices: tuple[str, ...]
    choice_labels: tuple[int, ...]

    @property
    def full_context(self) -> str:
        return self.prefix + self.context

    @property
    def continuations(self) -> tuple[str, ...]:
        """The choices, under the name log-likelihood requests use."""
        return self.choices


@dataclass(frozen=True)
class Prompt:
    """Everything that turns an example into a scored prediction.

    Attributes:
        template: The per-example template with its ``{label}`` slot (a generation template
            has none: the answer follows its end).
        verbalizer: Label words of each class (classification only; ``None`` otherwise).
        instruction: Text placed once before the demonstrations and the query.
        demonstrations: Labelled training examples shown in the prompt, in order.
        calibrate: Apply contextual calibration with content-free inputs.
        prior: Class shares that calibration aims at, in label order (the data's balance);
            empty: equal shares, as in Zhao et al. (2021). Ignored without ``calibrate``.
        separator: Text between instruction, demonstrations and the query.
        selector: Chooses demonstrations per query (e.g. the most similar training examples);
            used instead of ``demonstrations`` when given.
    """

    template: Template
    verbalizer: Verbalizer | None
    instruction: str = ""
    demonstrations: tuple[Example, ...] = ()
    calibrate: bool = False
    separator: str = "\n\n"
    selector: DemoSelector | None = field(default=None, compare=False)
    prior: tuple[float, ...] = ()

    #: Subclasses whose dicts carry this key are read back by their own ``from_dict``.
    dict_key: ClassVar[str] = ""

    @classmethod
    def create(
        cls,
        template: str | Template,
        verbalizer: str | Verbalizer | dict[str, Any] | None,
        labels: Sequence[str],
        **kwargs: Any,
    ) -> Prompt:
        """Build a prompt from strings: ``Prompt.create("{text} It was{label}", "bad,good", labels)``.

        With ``verbalizer=None`` (multiple choice, generation) ``labels`` is ignored.
        """
        tpl = template if isinstance(template, Template) else Template(template)
        verb: Verbalizer | None
        if verbalizer is None or isinstance(verbalizer, Verbalizer):
            verb = verbalizer
        elif isinstance(verbalizer, dict):
            verb = Verbalizer.from_mapping(verbalizer, labels)
        else:
            verb = Verbalizer.parse(verbalizer, labels)
        return cls(tpl, verb, **kwargs)

    @classmethod
    def for_task(
        cls, task: Task, template: str | None = None, verbalizer: Any = None, **kwargs: Any
    ) -> Prompt:
        """A prompt for ``task``: its default template and label words unless given.

        Example:
            >>> from promptsearch.tasks import Example, Task
            >>> qa = Task("qa", ("text",), (), (Example.create({"text": "2+2?"}, references=["4"]),),
            ...           task_type="generation")
            >>> Prompt.for_task(qa, "Q: {text}\\nA:").instance(qa.examples[0]).context
            'Q: 2+2?\\nA:'
        """
        kind = task.kind
        source = template or task.template_or_default()
        tpl = Template(source, generation=not kind.answer_slot)
        verb = None
        if kind.label_words:
            verb = verbalizer if verbalizer is not None else task.verbalizer_or_default()
        elif verbalizer is not None:
            raise TemplateError(
                f"Task {task.name!r} is a {task.task_type} task: label words (a verbalizer) do not apply; "
                "leave the verbalizer out."
            )
        prompt = cls.create(tpl, verb, task.label_names, **kwargs)
        prompt.check(task)
        return prompt

    def check(self, task: Task) -> None:
        """Raise a clear error if this prompt does not fit ``task``."""
        self.template.check_fields(task.input_fields)
        kind = task.kind
        if self.template.generation == kind.answer_slot:
            need = "a {label} slot where the answer goes" if kind.answer_slot else "no {label} slot"
            raise TemplateError(
                f"Task {task.name!r} is a {task.task_type} task: its templates need {need}; template "
                f"{self.template.source!r} does not fit."
            )
        if not kind.label_words:
            if self.verbalizer is not None or self.calibrate:
                raise TemplateError(
                    f"Task {task.name!r} is a {task.task_type} task: label words and calibration do not "
                    "apply; leave the verbalizer and calibration out."
                )
            return
        if self.verbalizer is None:
            raise TemplateError(
                f"Task {task.name!r} is a classification task: the prompt needs label words (a verbalizer)."
            )
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
        """The instruction and the given demonstrations, each followed by the separator.

        A demonstration shows its answer: the label's first word, the correct choice, or the
        first reference text.
        """
        pieces = [self.instruction.strip()] if self.instruction.strip() else []
        for demo in demonstrations:
            word = self.verbalizer.words(demo.label)[0] if self.verbalizer is not None else demo.answer
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
        if self.verbalizer is not None:
            for idx, word in self.verbalizer.pairs():
                choices.append(join_label(context, word))
                labels.append(idx)
        elif isinstance(inputs, Example) and inputs.choices:
            for idx, option in enumerate(inputs.choices):
                choices.append(join_label(context, option))
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
        """Instances with every field set to a content-free input, for calibration (label words)."""
        prefix = self.prefix
        return [
            self.instance(dict.fromkeys(self.template.fields, value), prefix=prefix)
            for value in CONTENT_FREE_INPUTS
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description (demonstrations by id and content)."""
        out: dict[str, Any] = {
            "template": self.template.source,
            "verbalizer": self.verbalizer.to_dict() if self.verbalizer is not None else None,
            "instruction": self.instruction,
            "demonstrations": [example_dict(d) for d in self.demonstrations],
            "calibrate": self.calibrate,
            "separator": self.separator,
            "selector": self.selector.to_dict() if self.selector is not None else None,
        }
        if self.template.generation:  # Only when set, so that classification ids never change.
            out["generation"] = True
        if self.calibrate and self.prior:  # Likewise: ids of prompts without a prior stay as they were.
            out["prior"] = [float(p) for p in self.prior]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        """Inverse of :meth:`to_dict`; a subclass's dict (e.g. ``{"ensemble": [...]}`` of a
        :class:`~promptsearch.templates.PromptEnsemble`) gives that subclass."""
        for sub in cls.__subclasses__():
            if sub.dict_key and sub.dict_key in data:
                return sub.from_dict(data)
        verb = data.get("verbalizer")
        return cls(
            template=Template(data["template"], generation=bool(data.get("generation", False))),
            verbalizer=Verbalizer.from_mapping(verb, list(verb)) if verb is not None else None,
            instruction=data.get("instruction", ""),
            demonstrations=tuple(example_from_dict(d) for d in data.get("demonstrations", [])),
            calibrate=bool(data.get("calibrate", False)),
            separator=data.get("separator", "\n\n"),
            selector=selector_from_dict(data["selector"]) if data.get("selector") else None,
            prior=tuple(float(p) for p in data.get("prior") or ()),
        )

    @property
    def id(self) -> str:
        """Content hash of everything that affects scores."""
        return self._hash(self._id_payload())

    @property
    def requests_id(self) -> str:
        """Content hash of what the backend is asked: the :attr:`id` of this prompt without
        calibration, which only post-processes the same scores. Two prompts with one
        ``requests_id`` send the same requests (the shared cache answers the second)."""
        payload = self._id_payload()
        payload.pop("calibrate")
        payload.pop("prior", None)
        return self._hash(payload)

    def _id_payload(self) -> dict[str, Any]:
        payload = self.to_dict()
        payload["demonstrations"] = [d["id"] for d in payload["demonstrations"]]
        payload["selector"] = self.selector.id if self.selector is not None else None
        return payload

    @staticmethod
    def _hash(payload: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
