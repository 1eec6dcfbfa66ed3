"""BIG-bench tasks read straight out of the pinned ``bigbench`` sdist, in one streaming pass.

The sdist (358 MB, Apache-2.0) holds one ``benchmark_tasks/<task>/task.json`` per task (and
per subtask). :func:`read_bigbench` streams the gzipped tarball once, member by member,
parses only the ``task.json`` files asked for and stops as soon as it has them all; nothing
is unpacked to disk. A task's ``examples`` become :class:`Example` records:

* ``target``, one text or a list of acceptable texts: references (generation);
* ``target_scores``, choice -> score: the example's own choices, the best-scored one correct
  (multiple choice), or a label when every example shares the choices (classification).

Example:
    >>> from promptsearch.tasks._bigbench import bigbench_member
    >>> bigbench_member("gem/xsum")
    'bigbench-1.0.0/bigbench/benchmark_tasks/gem/xsum/task.json'
"""

from __future__ import annotations

import json
import logging
import tarfile
import time
import zlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from promptsearch._artifacts import Artifact
from promptsearch.exceptions import DataError
from promptsearch.tasks._corpora import decode
from promptsearch.tasks._records import Example

__all__ = ["BIGBENCH", "BIGBENCH_TASKS_ROOT", "bigbench_member", "read_bigbench", "read_json_members"]

_logger = logging.getLogger(__name__)

BIGBENCH = Artifact(
    "bigbench", "1.0.0", "bigbench-1.0.0.tar.gz",
    "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", sdist=True,
)  # fmt: skip
"""The BIG-bench 1.0.0 sdist on the package registry (358 MB)."""

BIGBENCH_TASKS_ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks"
"""Folder of the task folders inside :data:`BIGBENCH`."""


def bigbench_member(task: str) -> str:
    """The archive member holding BIG-bench task (or subtask) ``task``, e.g. ``"gem/xsum"``."""
    return f"{BIGBENCH_TASKS_ROOT}/{task.strip('/')}/task.json"


def read_json_members(archive: Path, members: Collection[str]) -> dict[str, Any]:
    """Parse the JSON files ``members`` of the ``.tar.gz`` ``archive`` in one streaming pass.

    The archive is read sequentially (``tarfile`` stream mode) and only once; reading stops as
    soon as every member asked for was found.

    Raises:
        DataError: If the archive is unreadable, a member is missing or not valid JSON.
    """
    wanted, found = set(members), {}
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for info in tar:
                if info.name not in wanted or not info.isfile():
                    continue
                handle = tar.extractfile(info)
                if handle is None:
                    continue
                try:
                    found[info.name] = json.loads(decode(handle.read()))
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{info.name} in {archive.name} is not valid JSON ({exc}); the cached archive is "
                        "corrupt: delete it from the cache and fetch again."
                    ) from None
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"Could not read {archive} as a .tar.gz ({exc}); delete it from the cache and fetch again."
        ) from None
    missing = sorted(wanted - found.keys())
    if missing:
        raise DataError(
            f"{archive.name} has no member(s) {missing}; the pinned artifact changed or the task name is "
            "wrong (BIG-bench members look like "
            f"{bigbench_member('<task>')!r})."
        )
    return found


def _references(target: Any) -> list[str]:
    listed = target if isinstance(target, list) else [target]
    return [str(t) for t in listed if t is not None and str(t).strip()]


def _best_choice(scores: Mapping[str, Any]) -> str | None:
    """The single best-scored choice, or ``None`` when several share the top score."""
    values = {str(choice): float(score) for choice, score in scores.items()}
    top = max(values.values(), default=0.0)
    best = [choice for choice, score in values.items() if score == top]
    return best[0] if len(best) == 1 and top > 0 else None


def _example(item: Any, task_type: str) -> Example | None:
    """One BIG-bench example as a record of ``task_type``, or ``None`` when it does not fit."""
    if not isinstance(item, Mapping) or not str(item.get("input", "")).strip():
        return None
    text = str(item["input"])
    if task_type == "generation":
        refs = _references(item.get("target"))
        return Example.create({"text": text}, references=refs) if refs else None
    scores = item.get("target_scores")
    if not isinstance(scores, Mapping) or len(scores) < 2:
        return None
    best = _best_choice(scores)
    if best is None:
        return None
    if task_type == "multiple_choice":
        return Example.create({"text": text}, best, choices=[str(c) for c in scores])
    return Example.create({"text": text}, best)


def task_examples(data: Mapping[str, Any], task_type: str, where: str) -> list[Example]:
    """The examples of one parsed ``task.json`` as records of ``task_type``.

    Examples without what the type needs (a non-empty ``target`` for generation, a unique
    best choice in ``target_scores`` otherwise) are skipped and counted in the log.

    Raises:
        DataError: If the file has no ``examples`` or none of them fits ``task_type``.
    """
    raw = data.get("examples")
    if not isinstance(raw, list) or not raw:
        raise DataError(
            f"{where} has no 'examples' list (a task with subtasks keeps them in its subfolders: name "
            "a subtask, e.g. 'logical_deduction/three_objects')."
        )
    out = [ex for ex in (_example(item, task_type) for item in raw) if ex is not None]
    skipped = len(raw) - len(out)
    if not out:
        need = "a 'target'" if task_type == "generation" else "'target_scores' with one best choice"
        raise DataError(f"No example of {where} has {need}; it cannot be a {task_type} task.")
    if skipped:
        _logger.info("%s: %d example(s) without a usable answer skipped.", where, skipped)
    return out


def read_bigbench(
    archive: Path, requests: Collection[tuple[str, str]]
) -> dict[tuple[str, str], list[Example]]:
    """Read several BIG-bench tasks out of the sdist ``archive`` in one pass over it.

    Args:
        archive: The BIG-bench sdist (:data:`BIGBENCH`).
        requests: ``(member, task_type)`` pairs; a member may be asked for under several types.

    Returns:
        ``(member, task_type)`` -> the examples, in the file's order.
    """
    start = time.perf_counter()
    parsed = read_json_members(archive, {member for member, _ in requests})
    out = {(member, kind): task_examples(parsed[member], kind, member) for member, kind in requests}
    _logger.info(
        "Read %d BIG-bench task(s) from %s in %.1f s.", len(parsed), archive.name, time.perf_counter() - start
    )
    return out
