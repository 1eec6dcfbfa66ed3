"""Templates, verbalizers and complete prompts."""

from promptsearch.templates._prompt import CONTENT_FREE_INPUTS, Prompt, PromptInstance
from promptsearch.templates._template import (
    SOFT_MARKER,
    FieldPart,
    LabelPart,
    Part,
    RenderedTemplate,
    SoftPart,
    Template,
    TextPart,
    join_label,
    parse_template,
)
from promptsearch.templates._verbalizer import Verbalizer

__all__ = [
    "CONTENT_FREE_INPUTS",
    "SOFT_MARKER",
    "FieldPart",
    "LabelPart",
    "Part",
    "Prompt",
    "PromptInstance",
    "RenderedTemplate",
    "SoftPart",
    "Template",
    "TextPart",
    "Verbalizer",
    "join_label",
    "parse_template",
]
