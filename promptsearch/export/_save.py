"""Write an exported prompt folder: ``prompt.json``, ``README.md`` and optional ``tuning/`` weights."""

from __future__ import annotations

import json
import shutil
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError, TemplateError
from promptsearch.export._card import render_card
from promptsearch.export._manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    PICKLE_SUFFIXES,
    json_ready,
    package_versions,
    utc_now,
    write_json,
)
from promptsearch.export._tuning import TUNING_DIR, TuningArtifact, tuned_modes
from promptsearch.export._verify import file_hashes
from promptsearch.templates import Prompt, PromptEnsemble, prompt_fields
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    from promptsearch.backends import GenerationSettings, LMBackend
    from promptsearch.models import LoadedModel
    from promptsearch.search import PromptSearch
    from promptsearch.tasks import Task

__all__ = ["export_search", "save_prompt"]


def save_prompt(
    folder: str | Path,
    prompt: Prompt,
    *,
    model: str | Path | LoadedModel | LMBackend,
    task: Task | None = None,
    metrics: Mapping[str, Any] | None = None,
    tuning: TuningArtifact | None = None,
    max_words: int | None = None,
    generation: GenerationSettings | None = None,
    overwrite: bool = False,
) -> Path:
    """Export ``prompt`` for ``model`` to ``folder`` (JSON and safetensors only, never pickle).

    Args:
        folder: Target folder; created, or replaced when it holds an earlier export and
            ``overwrite`` is true. Files are written to a temporary folder first, then renamed.
        prompt: The prompt to export.
        model: A loaded model, or its catalog name, local folder or hub id; recorded as the
            model to load for predictions (a local folder is recorded as an absolute path).
        task: When given, the prompt is checked against it and its name, labels and input
            fields are recorded; otherwise labels and fields come from the prompt.
        metrics: Numbers worth keeping with the prompt (e.g. test accuracy).
        tuning: Trained weights of a tuned prompt, saved under ``tuning/``.
        max_words: Inputs were cut to their first ``max_words`` words during the search (the
            task's ``max_words``); predictions cut them the same way.
        generation: How answers were generated during the search (generation prompts):
            ``predict`` generates the same way. Default: the task's settings.
        overwrite: Replace an earlier export in ``folder``.

    Returns:
        The folder.

    Example:
        >>> from promptsearch.templates import Prompt
        >>> prompt = Prompt.create("Review: {text}\\nSentiment:{label}", "bad,good", ["neg", "pos"])
        >>> save_prompt("exports/movies", prompt, model="smollm2-135m-instruct")  # doctest: +SKIP
        PosixPath('exports/movies')
    """
    path = Path(folder).expanduser()
    _check(prompt, task, tuning)
    manifest = build_manifest(
        prompt,
        model=model,
        task=task,
        metrics=metrics,
        tuning=tuning,
        max_words=max_words,
        generation=generation,
    )
    _check_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        if tuning is not None:
            (tmp / TUNING_DIR).mkdir()
            tuning.save(tmp / TUNING_DIR)
            _refuse_pickles(tmp)
            manifest["tuning"]["files"] = file_hashes(tmp / TUNING_DIR)  # checked when loaded
        write_json(tmp / MANIFEST_NAME, manifest)
        (tmp / "README.md").write_text(render_card(manifest), encoding="utf-8")
        _swap(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def build_manifest(
    prompt: Prompt,
    *,
    model: str | Path | LoadedModel | LMBackend,
    task: Task | None = None,
    metrics: Mapping[str, Any] | None = None,
    tuning: TuningArtifact | None = None,
    max_words: int | None = None,
    generation: GenerationSettings | None = None,
) -> dict[str, Any]:
    """The manifest :func:`save_prompt` writes to ``prompt.json``, as a plain dict."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "prompt_id": prompt.id,
        "prompt": prompt.to_dict(),
        "model": _model_entry(model),
        "task": None
        if task is None
        else {
            "name": task.name,
            "metric": task.metric,
            "description": task.description,
            "task_type": task.task_type,
        },
        "labels": list(task.label_names if task is not None else _labels(prompt)),
        "input_fields": list(task.input_fields if task is not None else prompt_fields(prompt)),
        "max_words": max_words,
        "generation": None
        if generation is None
        else {"max_new_tokens": generation.max_new_tokens, "stop": list(generation.stop)},
        "metrics": dict(metrics or {}),
        "tuning": {"mode": NO_TUNING} if tuning is None else {"mode": tuning.mode, "path": f"{TUNING_DIR}/"},
        "versions": package_versions(),
        "created": utc_now(),
    }
    out: dict[str, Any] = json_ready(manifest, "manifest (metrics or prompt)")
    return out


def export_search(
    search: PromptSearch, folder: str | Path, *, tuning: TuningArtifact | None = None, overwrite: bool = False
) -> Path:
    """Export the winner of a fitted :class:`~promptsearch.search.PromptSearch` with its test metrics.

    Example:
        >>> search = PromptSearch("search_spaces/movies.yaml", n_trials=20).fit()  # doctest: +SKIP
        >>> export_search(search, "exports/movies")  # doctest: +SKIP
    """
    try:
        prompt, board, task, scorer = search.best_prompt_, search.leaderboard_, search.task_, search.scorer_
    except AttributeError:
        raise ConfigError("The search is not fitted: call search.fit() before export_search.") from None
    row = board.best
    if row.tuning != NO_TUNING and tuning is None:
        raise ConfigError(
            f"The best prompt was tuned with {row.tuning!r}; pass its weights as tuning=... to export it."
        )
    metrics = {
        "metric": row.metric,
        f"dev_{row.metric}": row.dev_score,
        "dev_n": row.dev_n,
        **{f"test_{name}": value for name, value in row.test_metrics.items()},
        "test_ci_low": row.test_ci_low,
        "test_ci_high": row.test_ci_high,
        **{f"test_{name}_ci": list(ci) for name, ci in row.test_intervals.items()},
        "test_n": row.test_n,
        "split_seed": board.seed,
        "n_trials": board.n_trials,
        "study": board.study_name,
    }
    metrics = {k: v for k, v in metrics.items() if v is not None}
    task_spec = search.space_.task
    return save_prompt(
        folder,
        prompt,
        model=scorer,
        task=task,
        metrics=metrics,
        tuning=tuning,
        max_words=None if task_spec is None else task_spec.max_words,
        generation=getattr(search, "generation_", None) if task.kind.output == "text" else None,
        overwrite=overwrite,
    )


def _labels(prompt: Prompt) -> list[str]:
    return list(prompt.verbalizer.labels) if prompt.verbalizer is not None else []


def _model_entry(model: Any) -> dict[str, Any]:
    from promptsearch.backends import DEFAULT_BACKEND, LMBackend
    from promptsearch.models import LoadedModel, detect_kind

    if isinstance(model, LoadedModel):
        return {
            "id": model.name,
            "kind": model.kind.value,
            "dtype": model.dtype,
            "max_length": model.max_length,
            "backend": DEFAULT_BACKEND,
        }
    if isinstance(model, LMBackend):
        loaded = getattr(model, "loaded", None)
        if isinstance(loaded, LoadedModel):
            return _model_entry(loaded)
        name = type(model).registry_name or type(model).__name__
        return {
            "id": model.name,
            "kind": None,
            "dtype": None,
            "max_length": model.max_length,
            "backend": name,
        }
    if not isinstance(model, (str, Path)) or not str(model).strip():
        raise ConfigError(
            f"model={model!r}: give a LoadedModel, a catalog name, a local model folder or a hub id."
        )
    spec, kind = str(model), None
    local = Path(spec).expanduser()
    if local.is_dir():
        spec = str(local.resolve())
        config = local / "config.json"
        if config.is_file():  # read the kind without importing transformers
            kind = detect_kind(types.SimpleNamespace(**json.loads(config.read_text(encoding="utf-8")))).value
    return {"id": spec, "kind": kind, "dtype": None, "max_length": None, "backend": DEFAULT_BACKEND}


def _check(prompt: Prompt, task: Task | None, tuning: TuningArtifact | None) -> None:
    if task is not None:
        prompt.check(task)
    if tuning is not None:
        if not isinstance(tuning, TuningArtifact):
            raise ConfigError(
                f"tuning={type(tuning).__name__} is not a TuningArtifact: it needs a `mode` and a "
                "`save(folder)` method."
            )
        if tuning.mode not in tuned_modes():
            raise ConfigError(f"Unknown tuning mode {tuning.mode!r}. {suggest(tuning.mode, tuned_modes())}")
    members = prompt.members if isinstance(prompt, PromptEnsemble) else (prompt,)
    if any(m.template.n_soft for m in members) and (tuning is None or not _soft(tuning.mode)):
        raise TemplateError(
            "The prompt has {soft:N} slots, whose embeddings are trained weights; export it with "
            "tuning=<its prompt_tuning or bbt artifact>, or remove the {soft:N} slots."
        )
    for member in members:
        selector = member.selector.to_dict() if member.selector is not None else {}
        if selector.get("embedder", "tfidf") != "tfidf":
            raise ConfigError(
                f"The prompt's demonstration selector uses the embedder {selector['embedder']!r}, which "
                "cannot be saved; only TF-IDF similarity is rebuilt at load time. Use SimilarSelector "
                "without embed=."
            )
    if Prompt.from_dict(json_ready(prompt.to_dict(), "prompt")).id != prompt.id:
        raise ConfigError(
            "The prompt does not survive a JSON round trip (to_dict/from_dict); it cannot be exported."
        )


def _soft(mode: str) -> bool:
    from promptsearch.tuning import tuning_modes

    return tuning_modes.get(mode).soft


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{str(path)!r} is a file; give a folder path to export to.")
    if path.is_dir() and any(path.iterdir()):
        if not (path / MANIFEST_NAME).is_file():
            raise ConfigError(f"{str(path)!r} exists and holds other files; export to a new or empty folder.")
        if not overwrite:
            raise ConfigError(
                f"{str(path)!r} already holds an exported prompt; pass overwrite=True to replace it."
            )


def _refuse_pickles(folder: Path) -> None:
    bad = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
    if bad:
        raise ConfigError(
            f"The tuning artifact wrote {bad}, which may hold pickled objects; an export holds JSON and "
            "safetensors only (save_pretrained(..., safe_serialization=True))."
        )


def _swap(tmp: Path, path: Path) -> None:
    """Put the finished ``tmp`` folder at ``path``, removing an earlier export only after the rename."""
    old = None
    if path.is_dir():
        old = path.with_name(f".{path.name}.{tmp.name}.old")
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
