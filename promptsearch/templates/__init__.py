"""Templates, verbalizers, complete prompts and prompt ensembles."""

from promptsearch.templates._ensemble import PromptEnsemble, prompt_fields
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
    "PromptEnsemble",
    "PromptInstance",
    "RenderedTemplate",
    "SoftPart",
    "Template",
    "TextPart",
    "Verbalizer",
    "join_label",
    "parse_template",
    "prompt_fields",
]
