"""``promptsearch evaluate``: score one prompt on a split."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from promptsearch.cli._common import check_at_least, emit_json, format_table, progress_bar, unescape
from promptsearch.exceptions import ConfigError

__all__ = ["register"]


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by commands that load a model."""
    p.add_argument(
        "--model", default=None, help="catalog name, local folder or hub id (default: smollm2-135m-instruct)"
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "fast", "float32", "bfloat16", "float16"],
        help="model dtype (auto: bfloat16 on GPU, float32 on CPU; fast: also bfloat16 on CPUs that "
        "compute it natively, AVX512-BF16 or AMX)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per forward pass")
    p.add_argument(
        "--backend",
        default=None,
        help="the backend that runs the model: hf (default), openai (a served model), fake, or a plugin's",
    )
    p.add_argument(
        "--base-url",
        default=None,
        help="openai backend: the server's API root, e.g. http://127.0.0.1:8000/v1 (the API key is read "
        "from OPENAI_API_KEY)",
    )
    p.add_argument(
        "--backend-option",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="an option of the backend (as in a space's backend.options), e.g. max_in_flight=8 or "
        "chat=true; repeat for several",
    )


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--backend-option KEY=VALUE`` (values read as JSON where they parse) and ``--base-url``.

    Raises:
        ConfigError: For an entry without ``=``.
    """
    import json

    options: dict[str, Any] = {}
    for entry in args.backend_option or []:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--backend-option {entry!r}: write KEY=VALUE, e.g. --backend-option max_in_flight=8."
            )
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    if args.base_url is not None:
        options["base_url"] = args.base_url
    return options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate one prompt on a task split",
        description="Score one prompt on a split of a task and print its metrics.",
    )
    p.add_argument("--task", default="movies", help="catalog name (promptsearch data list) or a local file")
    p.add_argument(
        "--text-field",
        action="append",
        default=None,
        help="input column of a --task file (its name is the template field; COLUMN=FIELD renames it); "
        "repeat for several",
    )
    p.add_argument(
        "--label-field", default=None, help="label (or, multiple choice, answer) column of a --task file"
    )
    p.add_argument(
        "--target-field",
        default=None,
        help="generation: the column of a --task file with the reference text (or a list of them)",
    )
    p.add_argument(
        "--template",
        default=None,
        help=r"template, e.g. 'Review: {text}\nSentiment:{label}' (generation tasks: no {label})",
    )
    p.add_argument("--verbalizer", default=None, help="label words in label order, e.g. 'negative,positive'")
    p.add_argument("--instruction", default="", help="text placed before demonstrations and the example")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"])
    p.add_argument("--k", type=int, default=16, help="examples per class in train and dev (default 16)")
    p.add_argument("--seed", type=int, default=13, help="few-shot split seed (LM-BFF: 13 21 42 87 100)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N examples of the split")
    p.add_argument("--demos", type=int, default=0, help="number of random train demonstrations")
    p.add_argument("--calibrate", action="store_true", help="contextual calibration")
    p.add_argument("--metric", default=None, help="the metric the interval is for (default: the task's)")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="generation: longest answer in tokens (default: the task's, else 32)",
    )
    p.add_argument(
        "--stop",
        action="append",
        default=None,
        help=r"generation: a string that ends the answer, e.g. '\n' or '.'; repeat for several "
        "(default: the task's, else a newline)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: every metric with its 95%% bootstrap interval (intervals), the prompt",
    )
    add_model_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from promptsearch.backends import DEFAULT_BACKEND
    from promptsearch.evaluation import evaluate

    check_at_least(args, batch_size=1, demos=0)
    template = unescape(args.template) if args.template else None
    task = _load_task(args, template)
    with progress_bar(None, "scoring", enabled=not args.quiet) as bar:
        result = evaluate(
            task,
            args.model,
            template,
            args.verbalizer,
            instruction=unescape(args.instruction),
            split=args.split,
            k=args.k,
            seed=args.seed,
            limit=args.limit,
            n_demonstrations=args.demos,
            calibrate=args.calibrate,
            batch_size=args.batch_size,
            dtype=args.dtype,
            device=args.device,
            progress=bar.update,
            backend=args.backend or DEFAULT_BACKEND,
            backend_options=backend_options(args),
            metric=args.metric,
            max_new_tokens=args.max_new_tokens,
            stop=[unescape(s) for s in args.stop] if args.stop is not None else None,
        )
    out: dict[str, Any] = result.to_dict()
    if args.json:
        emit_json(out)
        return 0
    names = [result.metric, *sorted(m for m in result.metrics if m != result.metric)]
    verbalizer = out["prompt"]["verbalizer"]
    head = ["template", *(["verbalizer"] if verbalizer else []), "n", *names, f"95% CI ({result.metric})"]
    row = [
        out["prompt"]["template"],
        *([",".join("|".join(w) for w in verbalizer.values())] if verbalizer else []),
        out["n"],
        *(result.metrics[m] for m in names),
        f"[{out['ci_low']:.3f}, {out['ci_high']:.3f}]",
    ]
    sys.stdout.write(format_table(head, [row]) + "\n")
    return 0


def _load_task(args: argparse.Namespace, template: str | None) -> Any:
    """The task of ``--task``, its columns named by ``--text-field``, ``--label-field`` and
    ``--target-field``.

    A file that fails to load as it was detected (no ``target`` column: classification) while
    the template has no ``{label}`` slot is read again as a generation task, so that the message
    is about its reference column.
    """
    from promptsearch.exceptions import DataError
    from promptsearch.tasks import list_catalog, load_task

    options: dict[str, Any] = {}
    if args.text_field:
        pairs = [tuple(f.split("=", 1)) if "=" in f else (f, f) for f in args.text_field]
        options["text_fields"] = {column.strip(): name.strip() for column, name in pairs}
    if args.label_field:
        options["label_field"] = args.label_field
    if args.target_field:
        options["target_field"] = args.target_field
    if options and args.task in {e.name for e in list_catalog()}:
        raise ConfigError(
            f"--text-field, --label-field and --target-field name the columns of a data file; "
            f"{args.task!r} is a catalog task. Leave them out, or pass --task FILE."
        )
    try:
        return load_task(args.task, **options)
    except DataError:
        if "label_field" in options or "target_field" in options or not _generation_template(template):
            raise
        return load_task(args.task, **options, task_type="generation")


def _generation_template(template: str | None) -> bool:
    """Whether ``template`` is given and has no ``{label}`` slot (so it is a generation template)."""
    from promptsearch.exceptions import TemplateError
    from promptsearch.templates import LabelPart, parse_template

    if template is None:
        return False
    try:
        return not any(isinstance(part, LabelPart) for part in parse_template(template))
    except TemplateError:
        return False  # The template's own check reports it.
