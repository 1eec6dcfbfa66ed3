"""Choosing and ordering in-context demonstrations from the training split only."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError
from promptsearch.tasks._records import Example

__all__ = [
    "ORDERS",
    "DemoSelection",
    "DemoSelector",
    "FixedSelector",
    "FoldSelector",
    "SimilarSelector",
    "example_dict",
    "example_from_dict",
    "order_demonstrations",
    "orders",
    "select_random",
    "selections",
    "selector_from_dict",
    "selectors",
]

Order = Callable[[Sequence[Example], int], tuple[Example, ...]]

#: Order name -> ``order(demonstrations, seed)`` (for per-query selections, the name also says
#: where the most similar example goes).
orders: Registry[Order] = Registry("demonstration order")


def _random_order(demos: Sequence[Example], seed: int) -> tuple[Example, ...]:
    items = list(demos)
    rng = np.random.default_rng(seed)
    return tuple(items[i] for i in rng.permutation(len(items)))


def _by_label(demos: Sequence[Example], seed: int) -> tuple[Example, ...]:
    groups: dict[str, list[Example]] = {}
    for ex in sorted(demos, key=lambda e: e.id):
        groups.setdefault(ex.label, []).append(ex)
    out: list[Example] = []
    while any(groups.values()):
        for label in sorted(groups):
            if groups[label]:
                out.append(groups[label].pop(0))
    return tuple(out)


orders.register("random", _random_order)
orders.register("by_label", _by_label)
orders.register("similar_last", _random_order)  # fixed demonstrations have no query to be near
ORDERS = tuple(orders.registered())


def order_demonstrations(demos: Sequence[Example], order: str, seed: int) -> tuple[Example, ...]:
    """Order demonstrations: ``random`` (seeded), ``by_label`` (labels interleaved round-robin)."""
    if order not in orders:
        raise ConfigError(f"Unknown demonstration order {order!r}; use one of {orders.registered()}.")
    return orders.get(order)(demos, seed)


def select_random(
    train: Sequence[Example], n: int, *, seed: int, balanced: bool = True
) -> tuple[Example, ...]:
    """Pick ``n`` training examples with a seeded RNG; ``balanced`` cycles through the labels."""
    if n <= 0:
        return ()
    pool = sorted(train, key=lambda e: e.id)
    rng = np.random.default_rng(seed)
    if not balanced:
        return tuple(pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False))
    by_label: dict[str, list[Example]] = {}
    for ex in pool:
        by_label.setdefault(ex.label, []).append(ex)
    shuffled = {lab: [exs[i] for i in rng.permutation(len(exs))] for lab, exs in sorted(by_label.items())}
    labels = [sorted(shuffled)[i] for i in rng.permutation(len(shuffled))]
    out: list[Example] = []
    while len(out) < min(n, len(pool)):
        for lab in labels:
            if shuffled[lab] and len(out) < n:
                out.append(shuffled[lab].pop(0))
    return tuple(out)


class DemoSelector(ABC):
    """Chooses the demonstrations shown before one query example (registered by ``kind``)."""

    kind: ClassVar[str] = ""

    @abstractmethod
    def select(self, query: Example | dict[str, str]) -> tuple[Example, ...]:
        """Return the demonstrations for ``query``, in prompt order."""

    @property
    @abstractmethod
    def id(self) -> str:
        """Content hash of the selector's configuration and pool."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON description, enough to rebuild the selector (with :meth:`from_dict`)."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoSelector:
        """Inverse of :meth:`to_dict`."""


class FixedSelector(DemoSelector):
    """The same demonstrations for every query (their key/values can be computed once)."""

    kind = "fixed"

    def __init__(self, demonstrations: Sequence[Example]) -> None:
        self.demonstrations = tuple(demonstrations)

    def select(self, query: Example | dict[str, str]) -> tuple[Example, ...]:
        return self.demonstrations

    @property
    def id(self) -> str:
        return _hash(["fixed", [d.id for d in self.demonstrations]])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "fixed", "demonstrations": [example_dict(d) for d in self.demonstrations]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixedSelector:
        return cls([example_from_dict(d) for d in data["demonstrations"]])


class SimilarSelector(DemoSelector):
    """The ``n`` training examples most similar to the query (TF-IDF cosine by default).

    Args:
        pool: Training examples to choose from.
        n: Number of demonstrations.
        fields: Input fields compared.
        order: ``similar_last`` puts the most similar example closest to the query.
        embed: Optional function mapping texts to vectors (e.g. a sentence-embedding model);
            without it, TF-IDF vectors are used.
    """

    kind = "similar"

    def __init__(
        self,
        pool: Sequence[Example],
        n: int,
        *,
        fields: Sequence[str] = ("text",),
        order: str = "similar_last",
        embed: Any = None,
        embedder_name: str = "tfidf",
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.pool = tuple(sorted(pool, key=lambda e: e.id))
        self.n = n
        self.fields = tuple(fields)
        self.order = order
        self.embedder_name = embedder_name if embed is not None else "tfidf"
        texts = [self._text(e.inputs) for e in self.pool]
        self._embed: Callable[[list[str]], Any]
        if embed is None:
            vectorizer: Any = TfidfVectorizer(sublinear_tf=True).fit(texts)
            self._embed = lambda xs: vectorizer.transform(xs).toarray()
        else:
            self._embed = embed
        self._matrix = _normalize(np.asarray(self._embed(texts), dtype=np.float64))

    def _text(self, inputs: Any) -> str:
        return " ".join(str(inputs.get(f, "")) for f in self.fields)

    def select(self, query: Example | dict[str, str]) -> tuple[Example, ...]:
        inputs = query.inputs if isinstance(query, Example) else query
        qid = query.id if isinstance(query, Example) else None
        vec = _normalize(np.asarray(self._embed([self._text(inputs)]), dtype=np.float64))[0]
        sims = self._matrix @ vec
        ranked = [i for i in np.argsort(-sims, kind="stable") if self.pool[i].id != qid][: self.n]
        chosen = [self.pool[i] for i in ranked]
        if self.order == "similar_last":
            chosen.reverse()
        return tuple(chosen)

    @property
    def id(self) -> str:
        return _hash(
            ["similar", self.n, self.fields, self.order, self.embedder_name, [e.id for e in self.pool]]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "similar",
            "n": self.n,
            "fields": list(self.fields),
            "order": self.order,
            "embedder": self.embedder_name,
            "pool": [example_dict(e) for e in self.pool],
        }


    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimilarSelector:
        from promptsearch.demonstrations._embedders import load_embedder

        name = str(data.get("embedder", "tfidf"))
        return cls(
            [example_from_dict(d) for d in data["pool"]],
            int(data["n"]),
            fields=data["fields"],
            order=data["order"],
            embed=load_embedder(name),
            embedder_name=name,
        )


class FoldSelector(DemoSelector):
    """Demonstrations drawn out of fold, so that every labelled example can also be a query.

    The labelled pool is split into folds (e.g. train and dev). A query from one fold gets its
    demonstrations from the other folds only, never from its own fold (so never itself); any
    other query (a test example, a new input) gets them from the whole pool. Within a pool the
    demonstrations are chosen by a registered selection (``random``: the same ones for every
    query of the fold, so their key/values are shared; ``similar``: per query).

    Args:
        folds: The labelled examples, split into folds.
        selection: A name in :data:`selections`.
        n: Demonstrations per query.
        order: A name in :data:`orders`.
        seed: Seed of random draws (0 is a valid seed).
        fields: Input fields compared by similar selection.
        embedder: Sentence encoder of similar selection.
    """

    kind = "folds"

    def __init__(
        self,
        folds: Sequence[Sequence[Example]],
        selection: str,
        n: int,
        *,
        order: str = "random",
        seed: int = 0,
        fields: Sequence[str] = ("text",),
        embedder: str = "tfidf",
    ) -> None:
        if len(folds) < 2:
            raise ConfigError("FoldSelector needs at least two folds of labelled examples.")
        self.folds = tuple(tuple(sorted(f, key=lambda e: e.id)) for f in folds)
        self.selection, self.n, self.order, self.seed = selection, n, order, seed
        self.fields, self.embedder = tuple(fields), embedder
        self._fold_of = {e.id: i for i, fold in enumerate(self.folds) for e in fold}
        self._built: dict[int, tuple[tuple[Example, ...], DemoSelector | None]] = {}

    def _for(self, fold: int) -> tuple[tuple[Example, ...], DemoSelector | None]:
        """Demonstrations (or a selector) of queries in ``fold`` (``-1``: outside every fold)."""
        if fold not in self._built:
            pool = [e for i, f in enumerate(self.folds) if i != fold for e in f]
            self._built[fold] = selections.get(self.selection).build(
                pool, self.n, order=self.order, seed=self.seed, fields=self.fields, embedder=self.embedder
            )
        return self._built[fold]

    def select(self, query: Example | dict[str, str]) -> tuple[Example, ...]:
        fold = self._fold_of.get(query.id, -1) if isinstance(query, Example) else -1
        demos, selector = self._for(fold)
        return selector.select(query) if selector is not None else demos

    @property
    def id(self) -> str:
        folds = [[e.id for e in f] for f in self.folds]
        return _hash(
            ["folds", self.selection, self.n, self.order, self.seed, self.fields, self.embedder, folds]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "folds",
            "selection": self.selection,
            "n": self.n,
            "order": self.order,
            "seed": self.seed,
            "fields": list(self.fields),
            "embedder": self.embedder,
            "folds": [[example_dict(e) for e in f] for f in self.folds],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoldSelector:
        return cls(
            [[example_from_dict(d) for d in fold] for fold in data["folds"]],
            str(data["selection"]),
            int(data["n"]),
            order=str(data["order"]),
            seed=int(data["seed"]),
            fields=data["fields"],
            embedder=str(data.get("embedder", "tfidf")),
        )


#: Selector kind -> selector class (the ``kind`` of a saved selector).
selectors: Registry[type[DemoSelector]] = Registry("demonstration selector")
selectors.register("fixed", FixedSelector)
selectors.register("similar", SimilarSelector)
selectors.register("folds", FoldSelector)


def selector_from_dict(data: dict[str, Any]) -> DemoSelector:
    """Rebuild a selector saved with ``to_dict`` (loading its sentence encoder, if any)."""
    return selectors.get(str(data["kind"])).from_dict(data)


class DemoSelection(ABC):
    """How a search picks demonstrations (a space's ``demonstrations.selection``).

    ``uses_embedder`` says whether it compares texts with the space's sentence encoder (which
    the search then loads, and checks, before any trial).
    """

    uses_embedder: ClassVar[bool] = False

    @abstractmethod
    def build(
        self,
        train: Sequence[Example],
        n: int,
        *,
        order: str,
        seed: int,
        fields: Sequence[str],
        embedder: str,
    ) -> tuple[tuple[Example, ...], DemoSelector | None]:
        """Fixed demonstrations, or a selector choosing them per query (then ``()``)."""


class _RandomSelection(DemoSelection):
    """``n`` training examples drawn by seed (labels balanced), then ordered."""

    def build(
        self, train: Sequence[Example], n: int, *, order: str, seed: int, fields: Sequence[str], embedder: str
    ) -> tuple[tuple[Example, ...], DemoSelector | None]:
        return order_demonstrations(select_random(train, n, seed=seed), order, seed), None


class _SimilarSelection(DemoSelection):
    """The ``n`` training examples most similar to each query (TF-IDF or a sentence encoder)."""

    uses_embedder = True

    def build(
        self, train: Sequence[Example], n: int, *, order: str, seed: int, fields: Sequence[str], embedder: str
    ) -> tuple[tuple[Example, ...], DemoSelector | None]:
        from promptsearch.demonstrations._embedders import load_embedder

        selector = SimilarSelector(
            train,
            n,
            fields=fields,
            order="similar_last" if order == "similar_last" else "most_similar_first",
            embed=load_embedder(embedder),
            embedder_name=embedder,
        )
        return (), selector


#: Selection name -> strategy.
selections: Registry[DemoSelection] = Registry("demonstration selection")
selections.register("random", _RandomSelection())
selections.register("similar", _SimilarSelection())


def _normalize(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: np.ndarray = m / np.where(norms == 0, 1.0, norms)
    return out


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj).encode()).hexdigest()[:12]


def example_dict(e: Example) -> dict[str, Any]:
    """An example as JSON data (choices and references only when present)."""
    out: dict[str, Any] = {"id": e.id, "inputs": dict(e.inputs), "label": e.label}
    if e.choices:
        out["choices"] = list(e.choices)
    if e.references:
        out["references"] = list(e.references)
    return out


def example_from_dict(d: dict[str, Any]) -> Example:
    """Inverse of :func:`example_dict`."""
    return Example(
        id=d["id"],
        inputs=d["inputs"],
        label=d.get("label", ""),
        choices=tuple(d.get("choices", ())),
        references=tuple(d.get("references", ())),
    )
