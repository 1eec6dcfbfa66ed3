"""A score and text cache in any SQL database SQLAlchemy reaches (PostgreSQL, MySQL, SQLite).

Workers on several machines that share a study's database share this cache too: a (model,
prompt, example) computed by one of them is never computed again by another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from promptsearch.exceptions import ConfigError
from promptsearch.study._cache import MemoryScoreCache, SQLiteScoreCache
from promptsearch.study._storage import check_storage, mask_url, with_retries

__all__ = ["SQLScoreCache", "cache_for_storage"]

_logger = logging.getLogger(__name__)
_CHUNK = 500


class SQLScoreCache(MemoryScoreCache):
    """Cache tables ``promptsearch_scores`` and ``promptsearch_texts`` in the database at ``url``.

    Rows are written once (a row another worker wrote first is kept) and committed after every
    batch, so a killed worker loses at most the batch it was scoring.

    Example:
        >>> cache = SQLScoreCache("postgresql+psycopg2://user@db-host/studies")  # doctest: +SKIP
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        import sqlalchemy as sa

        check_storage(url)  # a bad URL, a missing driver or a server down: a ConfigError
        self.url = url
        try:
            self._engine = sa.create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # SQLAlchemy raises many types
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"Cannot open the score cache in {mask_url(url)!r}: {mask_url(reason)}."
            ) from None
        meta = sa.MetaData()
        key = [sa.Column(c, sa.String(255), primary_key=True) for c in ("model", "prompt", "example")]
        self._score_table = sa.Table(
            "promptsearch_scores", meta, *key, sa.Column("scores", sa.LargeBinary, nullable=False)
        )
        self._text_table = sa.Table(
            "promptsearch_texts", meta, *[c.copy() for c in key], sa.Column("text", sa.Text, nullable=False)
        )
        self._lock = threading.Lock()
        with_retries(lambda: meta.create_all(self._engine, checkfirst=True))  # workers race

    def _select(self, table: Any, column: str, model_id: str, key: str, ids: list[str]) -> dict[str, Any]:
        import sqlalchemy as sa

        found: dict[str, Any] = {}
        with self._lock, self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                query = sa.select(table.c.example, table.c[column]).where(
                    table.c.model == model_id, table.c.prompt == key, table.c.example.in_(chunk)
                )
                found.update({row[0]: row[1] for row in conn.execute(query)})
        return found

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        import sqlalchemy as sa

        if not rows:
            return
        with self._lock:
            try:
                with self._engine.begin() as conn:
                    conn.execute(table.insert(), rows)
            except sa.exc.IntegrityError:  # another worker wrote some of them: keep theirs
                for row in rows:
                    try:
                        with self._engine.begin() as conn:
                            conn.execute(table.insert(), [row])
                    except sa.exc.IntegrityError:
                        continue

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        ids = list(example_ids)
        blobs = self._select(self._score_table, "scores", model_id, prompt_id, ids)
        self._count(len(blobs), len(ids))
        return [np.frombuffer(bytes(blobs[e]), dtype=np.float64).copy() if e in blobs else None for e in ids]

    def put_many(self, model_id: str, prompt_id: str, items: dict[str, np.ndarray]) -> None:
        rows = [
            {
                "model": model_id,
                "prompt": prompt_id,
                "example": e,
                "scores": np.asarray(s, np.float64).tobytes(),
            }
            for e, s in items.items()
        ]
        self._insert(self._score_table, rows)

    def get_texts(self, model_id: str, key: str, example_ids: Sequence[str]) -> list[str | None]:
        ids = list(example_ids)
        found = self._select(self._text_table, "text", model_id, key, ids)
        self._count(len(found), len(ids))
        return [found.get(e) for e in ids]

    def put_texts(self, model_id: str, key: str, items: dict[str, str]) -> None:
        self._insert(
            self._text_table,
            [{"model": model_id, "prompt": key, "example": e, "text": t} for e, t in items.items()],
        )

    def __len__(self) -> int:
        import sqlalchemy as sa

        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self._score_table)).scalar() or 0)

    def close(self) -> None:
        self._engine.dispose()


def cache_for_storage(url: str) -> MemoryScoreCache:
    """The cache that workers sharing the study at ``url`` share too.

    A database server (PostgreSQL, MySQL, ...) holds it in its own tables; a SQLite database
    or a journal file gets a SQLite file beside it (``<file>.scores.sqlite``).
    """
    if url.startswith("sqlite:///"):
        return SQLiteScoreCache(url.removeprefix("sqlite:///") + ".scores.sqlite")
    if url.startswith("journal:") or url.endswith((".log", ".journal")):
        return SQLiteScoreCache(url.removeprefix("journal:") + ".scores.sqlite")
    return SQLScoreCache(url)
