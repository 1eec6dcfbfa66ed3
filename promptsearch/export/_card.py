"""The human ``README.md`` card of an exported prompt, drawn from its manifest only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptsearch.demonstrations import selectors

__all__ = ["render_card"]


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("\n", "\\n").replace("|", "\\|")


def _prompt_lines(prompt: Mapping[str, Any]) -> list[str]:
    """The card's lines describing one prompt (dict): instruction, template, label words,
    demonstrations and calibration."""
    lines: list[str] = []
    if prompt.get("instruction"):
        lines += ["Instruction:", "", _fence(prompt["instruction"]), ""]
    if prompt.get("generation"):
        lines += ["Template (the answer is generated after it):", "", _fence(prompt["template"]), ""]
    else:
        lines += ["Template (`{label}` marks where the answer goes):", "", _fence(prompt["template"]), ""]
    if prompt.get("verbalizer"):
        lines += ["| label | label words |", "|---|---|"]
        lines += [
            f"| {_cell(lab)} | {_cell(', '.join(words))} |" for lab, words in prompt["verbalizer"].items()
        ]
        lines.append("")
    selector = prompt.get("selector")
    if selector and str(selector.get("kind")) in selectors:
        lines.append("Demonstrations: " + selectors.get(str(selector["kind"])).describe(selector))
    else:
        lines.append(f"Demonstrations: {len(prompt.get('demonstrations', []))} fixed training examples.")
    lines += [f"Contextual calibration: {'yes' if prompt.get('calibrate') else 'no'}.", ""]
    return lines


def render_card(manifest: Mapping[str, Any]) -> str:
    """Render the Markdown card of an export from its manifest dict.

    Example:
        >>> from promptsearch.export import read_manifest
        >>> print(render_card(read_manifest("exports/movies")))  # doctest: +SKIP
    """
    prompt, model, task = manifest["prompt"], manifest["model"], manifest.get("task") or {}
    title = task.get("name") or "classification"
    lines = [
        f"# Prompt for {title}",
        "",
        f"Exported by promptsearch {manifest['versions'].get('promptsearch', '?')} on {manifest['created']}. "
        f"Prompt id `{manifest['prompt_id']}`.",
        "",
        "## Model",
        "",
        f"- id: `{model['id']}`",
        f"- kind: {model.get('kind') or 'detected at load time'}; dtype: {model.get('dtype') or 'auto'}",
        f"- tuning: {manifest['tuning']['mode']}"
        + (f" (weights in `{manifest['tuning']['path']}`)" if manifest["tuning"].get("path") else ""),
        "",
        "## Task",
        "",
        f"- type: {(manifest.get('task') or {}).get('task_type', 'classification')}",
        *([f"- labels: {', '.join(f'`{lab}`' for lab in manifest['labels'])}"] if manifest["labels"] else []),
        f"- input fields: {', '.join(f'`{f}`' for f in manifest['input_fields'])}",
        *(
            [f"- inputs are cut to their first {manifest['max_words']} words, as during the search"]
            if manifest.get("max_words")
            else []
        ),
        *(
            [
                f"- answers: at most {gen['max_new_tokens']} new tokens, ending before any of "
                + ", ".join(f"`{json.dumps(s)[1:-1]}`" for s in gen["stop"])
                + ", as during the search"
            ]
            if (gen := manifest.get("generation"))
            else []
        ),
        "",
        "## Prompt",
        "",
    ]
    members = prompt.get("ensemble")
    if isinstance(members, list):
        lines += [
            f"An ensemble of {len(members)} prompts: each scores the answers, and their log-probabilities "
            "(after a softmax each) are averaged.",
            "",
        ]
        for i, member in enumerate(members, start=1):
            lines += [f"### Member {i} of {len(members)}", "", *_prompt_lines(member)]
    else:
        lines += _prompt_lines(prompt)
    metrics = manifest.get("metrics") or {}
    if metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in metrics.items()]
        lines.append("")
    lines += [
        "## Use",
        "",
        "```python",
        "from promptsearch.export import load_prompt",
        "",
        'predictor = load_prompt("path/to/this/folder")',
        'predictor.predict(["an example text"])',
        "```",
        "",
        "```bash",
        "promptsearch predict path/to/this/folder --input rows.jsonl --output predictions.jsonl",
        "```",
        "",
        "## Versions",
        "",
        *(f"- {name} {version}" for name, version in manifest["versions"].items()),
        "",
    ]
    return "\n".join(lines)
