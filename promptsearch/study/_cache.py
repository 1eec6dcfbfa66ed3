"""Persistent caches of raw scores and generated texts keyed by (model, prompt, example) hashes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MemoryScoreCache", "SQLiteScoreCache"]


class MemoryScoreCache:
    """An in-process cache (lost at exit); counts hits and misses."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str, str], np.ndarray] = {}
        self._texts: dict[tuple[str, str, str], str] = {}
        self.hits = 0
        self.misses = 0

    def _count(self, found: int, total: int) -> None:
        self.hits += found
        self.misses += total - found

    def get_texts(self, model_id: str, key: str, example_ids: Sequence[str]) -> list[str | None]:
        out = [self._texts.get((model_id, key, e)) for e in example_ids]
        self._count(sum(x is not None for x in out), len(out))
        return out

    def put_texts(self, model_id: str, key: str, items: dict[str, str]) -> None:
        for example_id, text in items.items():
            self._texts[(model_id, key, example_id)] = text

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        out = [self._data.get((model_id, prompt_id, e)) for e in example_ids]
        self._count(sum(x is not None for x in out), len(out))
        return out

    def put_many(self, model_id: str, prompt_id: str, items: dict[str, np.ndarray]) -> None:
        for example_id, scores in items.items():
            self._data[(model_id, prompt_id, example_id)] = np.asarray(scores, dtype=np.float64)


class SQLiteScoreCache(MemoryScoreCache):
    """A SQLite file shared by runs and workers: nothing is scored or generated twice, even
    after a crash.

    Writes are committed after every batch, in WAL mode, so several processes can share one
    file and a killed worker loses at most the batch it was scoring.

    Example:
        >>> cache = SQLiteScoreCache("runs/movies/scores.sqlite")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS scores (model TEXT NOT NULL, prompt TEXT NOT NULL, "
            "example TEXT NOT NULL, scores BLOB NOT NULL, PRIMARY KEY (model, prompt, example))"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS texts (model TEXT NOT NULL, prompt TEXT NOT NULL, "
            "example TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (model, prompt, example))"
        )
        self._conn.commit()

    def _select(self, table: str, column: str, model_id: str, key: str, ids: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT example, {column} FROM {table} WHERE model=? AND prompt=? AND example IN "
                rows = self._conn.execute(f"{query}({marks})", (model_id, key, *chunk)).fetchall()
                found.update(dict(rows))
        return found

    def get_texts(self, model_id: str, key: str, example_ids: Sequence[str]) -> list[str | None]:
        ids = list(example_ids)
        found = self._select("texts", "text", model_id, key, ids)
        self._count(len(found), len(ids))
        return [found.get(e) for e in ids]

    def put_texts(self, model_id: str, key: str, items: dict[str, str]) -> None:
        rows = [(model_id, key, e, t) for e, t in items.items()]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?, ?, ?)", rows)
            self._conn.commit()

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        ids = list(example_ids)
        blobs = self._select("scores", "scores", model_id, prompt_id, ids)
        self._count(len(blobs), len(ids))
        return [np.frombuffer(blobs[e], dtype=np.float64).copy() if e in blobs else None for e in ids]

    def put_many(self, model_id: str, prompt_id: str, items: dict[str, np.ndarray]) -> None:
        rows = [(model_id, prompt_id, e, np.asarray(s, dtype=np.float64).tobytes()) for e, s in items.items()]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
