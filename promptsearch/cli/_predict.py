"""``promptsearch predict DIR --input FILE --output FILE``: label texts with an exported prompt."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from promptsearch.cli._common import check_at_least, check_folder, progress_bar
from promptsearch.exceptions import ConfigError, DataError

__all__ = ["read_rows", "register"]

_logger = logging.getLogger(__name__)
_CHUNK = 512  # rows scored and written per step, so that memory stays flat on big files


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "predict",
        help="label texts with an exported prompt",
        description="Predict labels for JSONL rows (or a .txt file, one text per line) with a prompt folder "
        "written by save_prompt or `promptsearch search --export`. Each output row is the input row plus "
        '"label" and "probabilities".',
    )
    p.add_argument("folder", help="exported prompt folder (it holds prompt.json)")
    p.add_argument("--input", required=True, help="JSONL rows with the prompt's input fields, or a .txt file")
    p.add_argument("--output", required=True, help="JSONL file to write (replaced atomically)")
    p.add_argument("--model", default=None, help="use this model instead of the recorded one")
    p.add_argument(
        "--field",
        default=None,
        help="JSONL key holding the text of a single-field prompt (default: the field's name, else 'text')",
    )
    p.add_argument("--batch-size", type=int, default=None, help="sequences per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["auto", "float32", "bfloat16", "float16"],
        help="model dtype (default: the one recorded at export)",
    )
    p.add_argument(
        "--backend",
        default=None,
        help="the backend that runs the model (default: the one recorded at export)",
    )
    p.add_argument("--base-url", default=None, help="openai backend: the server's API root, ending in /v1")
    p.add_argument(
        "--backend-option",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="an option of the backend",
    )
    p.set_defaults(handler=run)


Row = tuple[dict[str, Any], dict[str, Any]]


def read_rows(path: Path, fields: Sequence[str], field: str | None = None) -> list[Row]:
    """Read ``path`` into (output row, input record) pairs; blank lines are skipped.

    Raises:
        DataError: naming the file and line of a row that is not JSON or lacks a field.
    """
    if not path.is_file():
        raise DataError(f"No input file at {str(path)!r}; give a .jsonl file (or .txt, one text per line).")
    if field is not None and len(fields) != 1:
        raise ConfigError(f"--field is for single-field prompts; this prompt reads {list(fields)} by name.")
    out: list[Row] = []
    for lineno, line in _lines(path):
        if path.suffix.lower() == ".txt":
            if len(fields) != 1:
                raise DataError(
                    f"{path}: a .txt input gives one text per line, but this prompt reads the fields "
                    f"{list(fields)}; give JSONL rows with these keys."
                )
            out.append(({field or "text": line}, {fields[0]: line}))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}, line {lineno}: not valid JSON ({exc.msg}, column {exc.colno}); each line must "
                "be one JSON object."
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {lineno}: expected a JSON object, got {type(row).__name__}.")
        out.append((row, _record(row, fields, field, f"{path}, line {lineno}")))
    return out


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\r\n")
                if line.strip():
                    yield lineno, line
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8."
        ) from None


def _record(row: dict[str, Any], fields: Sequence[str], field: str | None, where: str) -> dict[str, Any]:
    if len(fields) == 1:
        key = field or (fields[0] if fields[0] in row or "text" not in row else "text")
        keys = {fields[0]: key}
    else:
        keys = {f: f for f in fields}
    missing = [k for k in keys.values() if k not in row]
    if missing:
        hint = " (use --field NAME to read the text from another key)" if len(fields) == 1 else ""
        raise DataError(f"{where}: no field {missing}; rows need {list(keys.values())}{hint}.")
    record: dict[str, Any] = {f: "" if row[k] is None else str(row[k]) for f, k in keys.items()}
    if "choices" in row:  # multiple-choice prompts pick one of each row's own choices
        record["choices"] = row["choices"]
    return record


def run(args: argparse.Namespace) -> int:
    from promptsearch.export import load_prompt, read_manifest
    from promptsearch.templates import Template

    check_at_least(args, batch_size=1)
    check_folder(args.output, "--output", file=True)
    manifest = read_manifest(args.folder)  # checks the folder before any model is loaded
    prompt = manifest["prompt"]
    members = prompt.get("ensemble") if isinstance(prompt, dict) else None
    prompts = members if isinstance(members, list) and members else [prompt]  # an ensemble's members
    if not all(isinstance(p, dict) and isinstance(p.get("template"), str) for p in prompts):
        raise DataError(
            f'{args.folder}/prompt.json has no template string under "prompt"; export the prompt again.'
        )
    templates = [Template(p["template"], generation=bool(p.get("generation"))) for p in prompts]
    fields = tuple(dict.fromkeys(f for t in templates for f in t.fields))
    rows = read_rows(Path(args.input), fields, args.field)
    if not rows:
        _logger.warning("%s holds no rows; writing an empty output.", args.input)
    from promptsearch.cli._evaluate import backend_options

    predictor = load_prompt(
        args.folder,
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        backend=args.backend,
        backend_options=backend_options(args),
    )
    key = predictor.output.answer_key
    if any(key in row for row, _ in rows):
        _logger.warning("Input rows have a %r key: it is kept as 'input_%s'; %r is predicted.", key, key, key)
    output = Path(args.output)
    counts: Counter[str] = Counter()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    except OSError as exc:
        raise DataError(
            f"Cannot write to {str(output)!r} ({exc.strerror}); choose another --output."
        ) from None
    try:
        with (
            os.fdopen(fd, "w", encoding="utf-8") as fh,
            progress_bar(len(rows), "predicting", enabled=not args.quiet) as bar,
        ):
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                for out in _predict_chunk(predictor, chunk, key, bar.update):
                    if predictor.labels:
                        counts[out[key]] += 1
                    fh.write(json.dumps(out, ensure_ascii=False) + "\n")
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    summary = ", ".join(f"{lab}: {counts[lab]}" for lab in predictor.labels)
    sys.stdout.write(
        f"Wrote {len(rows)} predictions to {output}" + (f" ({summary})" if summary else "") + "\n"
    )
    return 0


def _predict_chunk(predictor: Any, chunk: list[Row], key: str, progress: Any) -> list[dict[str, Any]]:
    """Output rows: the input row plus the prediction (and probabilities where there are some)."""
    records = [rec for _, rec in chunk]
    outs = []
    for row, _ in chunk:
        out = dict(row)
        if key in out:
            out[f"input_{key}"] = out.pop(key)
        outs.append(out)
    if not predictor.output.has_scores:
        for out, text in zip(outs, predictor.predict(records, progress=progress)):
            out[key] = text
        return outs
    probs = predictor.predict_proba(records, progress=progress)
    for out, rec, p in zip(outs, records, probs):
        options = list(predictor.labels) or [str(c) for c in rec["choices"]]
        out[key] = options[int(p.argmax())]
        out["probabilities"] = {name: float(x) for name, x in zip(options, p)}
    return outs
