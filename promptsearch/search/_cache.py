"""Persistent caches of raw scores keyed by (model, prompt, example) content hashes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["MemoryScoreCache", "SQLiteScoreCache"]


class MemoryScoreCache:
    """An in-process cache (lost at exit); counts hits and misses."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str, str], np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        out = [self._data.get((model_id, prompt_id, e)) for e in example_ids]
        found = sum(x is not None for x in out)
        self.hits += found
        self.misses += len(out) - found
        return out

    def put_many(self, model_id: str, prompt_id: str, items: dict[str, np.ndarray]) -> None:
        for example_id, scores in items.items():
            self._data[(model_id, prompt_id, example_id)] = np.asarray(scores, dtype=np.float64)


class SQLiteScoreCache(MemoryScoreCache):
    """A SQLite file shared by runs and workers: nothing is scored twice, even after a crash.

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
        self._conn.commit()

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        found: dict[str, np.ndarray] = {}
        ids = list(example_ids)
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT example, scores FROM scores WHERE model=? AND prompt=? AND example IN ({marks})",
                    (model_id, prompt_id, *chunk),
                ).fetchall()
                for example, blob in rows:
                    found[example] = np.frombuffer(blob, dtype=np.float64).copy()
        out = [found.get(e) for e in ids]
        self.hits += len(found)
        self.misses += len(ids) - len(found)
        return out

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
