"""Trained weights of tuned trials live in an Optuna artifact store, referenced from the trial.

Workers on other machines find them through the store, never through a local path: each tuned
trial uploads one zip of its weights folder (``optuna.artifacts.upload_artifact``) and records
the artifact id; reading it back downloads and unpacks it once into a local cache folder.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError
from promptsearch.study import Attr

if TYPE_CHECKING:
    import optuna

__all__ = ["artifact_store", "fetch_tuned", "upload_tuned"]


def artifact_store(store: Any, out_dir: Path | None) -> Any:
    """An Optuna artifact store: the one given, a folder path, else ``<out_dir>/artifacts``
    (a temporary folder without ``out_dir``)."""
    import optuna

    if store is not None and not isinstance(store, (str, Path)):
        return store
    if store is None:
        folder = (
            (out_dir / "artifacts") if out_dir is not None else Path(tempfile.mkdtemp(prefix="ps-artifacts-"))
        )
    else:
        folder = Path(store).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot use {str(folder)!r} as the artifact store ({exc.strerror}).") from None
    return optuna.artifacts.FileSystemArtifactStore(str(folder))


def upload_tuned(store: Any, trial: optuna.Trial, folder: Path) -> str:
    """Zip ``folder`` (a tuned trial's weights), upload it for ``trial`` and record its id."""
    import optuna

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(shutil.make_archive(str(Path(tmp) / "tuned"), "zip", root_dir=folder))
        artifact_id = optuna.artifacts.upload_artifact(
            artifact_store=store, file_path=str(archive), study_or_trial=trial, mimetype="application/zip"
        )
    trial.set_user_attr(Attr.TUNING_ARTIFACT, artifact_id)
    return artifact_id


def fetch_tuned(store: Any, artifact_id: str, cache_dir: Path) -> Path:
    """The unpacked weights of an artifact, downloaded into ``cache_dir/<id>`` once."""
    import optuna

    target = cache_dir / artifact_id
    if (target / ".complete").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "tuned.zip"
        optuna.artifacts.download_artifact(
            artifact_store=store, file_path=str(archive), artifact_id=artifact_id
        )
        building = Path(tempfile.mkdtemp(prefix=f".{artifact_id}.", dir=_mkdir(cache_dir)))
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(building)
        (building / ".complete").touch()
        if target.exists():
            shutil.rmtree(building, ignore_errors=True)
        else:
            building.rename(target)
    return target


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
