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
    "DEFAULT_ORDER",
    "DEFAULT_SELECTION",
    "DemoSelection",
    "DemoSelector",
    "FixedSelector",
    "LeaveOneOutSelector",
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

#: The selection and the order of demonstrations when none is searched (the defaults).
DEFAULT_SELECTION = "random"
DEFAULT_ORDER = "random"


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


orders.register(DEFAULT_ORDER, _random_order)
orders.register("by_label", _by_label)
orders.register("similar_last", _random_order)  # fixed demonstrations have no query to be near


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

    @classmethod
    def describe(cls, data: dict[str, Any]) -> str:
        """One sentence for people (an export's card) about the selector saved as ``data``,
        without rebuilding it (no encoder is loaded)."""
        return f"chosen per input by the {cls.kind!r} selector."


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
    def describe(cls, data: dict[str, Any]) -> str:
        return f"{len(data.get('demonstrations', []))} fixed training examples."

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
    def describe(cls, data: dict[str, Any]) -> str:
        return (
            f"the {data['n']} most similar of {len(data['pool'])} training examples "
            f"({data.get('embedder') or 'tfidf'}), chosen per input."
        )

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


class LeaveOneOutSelector(DemoSelector):
    """Fixed demonstrations drawn from every labelled example, each query scored without itself.

    Prompts are then compared on all the labelled examples (train and dev), and the prompt
    scored is the prompt used afterwards: every query sees ``demonstrations``, except a query
    that is one of them, which sees it replaced by a substitute of the same label (drawn by
    ``seed`` from ``pool``) so that no example is shown with its own answer. A new input (a
    test example, a prediction) always sees ``demonstrations``.

    Args:
        demonstrations: The demonstrations, in prompt order.
        pool: The labelled examples they were drawn from (substitutes come from it).
        seed: Seed of the substitutes' draw (0 is a valid seed).
    """

    kind = "leave_one_out"

    def __init__(self, demonstrations: Sequence[Example], pool: Sequence[Example], *, seed: int = 0) -> None:
        self.demonstrations = tuple(demonstrations)
        self.pool = tuple(sorted(pool, key=lambda e: e.id))
        self.seed = seed
        self._ids = {d.id for d in self.demonstrations}
        rng = np.random.default_rng(seed)
        self._order = [self.pool[i] for i in rng.permutation(len(self.pool))]

    def select(self, query: Example | dict[str, str]) -> tuple[Example, ...]:
        if not isinstance(query, Example) or query.id not in self._ids:
            return self.demonstrations
        spare = [e for e in self._order if e.id not in self._ids and e.id != query.id]
        same = [e for e in spare if e.label == query.label]
        if not (same or spare):
            return tuple(d for d in self.demonstrations if d.id != query.id)
        substitute = (same or spare)[0]
        return tuple(substitute if d.id == query.id else d for d in self.demonstrations)

    @property
    def id(self) -> str:
        demos, pool = [d.id for d in self.demonstrations], [e.id for e in self.pool]
        return _hash(["leave_one_out", demos, pool, self.seed])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "demonstrations": [example_dict(d) for d in self.demonstrations],
            "pool": [example_dict(e) for e in self.pool],
            "seed": self.seed,
        }

    @classmethod
    def describe(cls, data: dict[str, Any]) -> str:
        return (
            f"{len(data.get('demonstrations', []))} training examples, an input never shown itself "
            f"(another of its label from {len(data.get('pool', []))} instead)."
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeaveOneOutSelector:
        return cls(
            [example_from_dict(d) for d in data["demonstrations"]],
            [example_from_dict(e) for e in data["pool"]],
            seed=int(data.get("seed", 0)),
        )


#: Selector kind -> selector class (the ``kind`` of a saved selector).
selectors: Registry[type[DemoSelector]] = Registry("demonstration selector")
selectors.register("fixed", FixedSelector)
selectors.register("similar", SimilarSelector)
selectors.register("leave_one_out", LeaveOneOutSelector)


def selector_from_dict(data: dict[str, Any]) -> DemoSelector:
    """Rebuild a selector saved with ``to_dict`` (loading its sentence encoder, if any)."""
    return selectors.get(str(data["kind"])).from_dict(data)


class DemoSelection(ABC):
    """How a search picks demonstrations (a space's ``demonstrations.selection``).

    ``uses_embedder`` says whether it compares texts with the space's sentence encoder (which
    the search then loads, and checks, before any trial); ``seeded`` whether its choice depends
    on the seed (the study then searches ``demonstrations.seeds`` draws).
    """

    uses_embedder: ClassVar[bool] = False
    seeded: ClassVar[bool] = False

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

    seeded = True

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
selections.register(DEFAULT_SELECTION, _RandomSelection())
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
