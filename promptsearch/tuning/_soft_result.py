"""Result of prompt tuning or BBT, saved as a PEFT prompt-tuning adapter folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.tuning._common import TrainingStats
from promptsearch.tuning._config import BBTConfig, SoftPromptConfig

if TYPE_CHECKING:
    import torch

    from promptsearch.models import LoadedModel
    from promptsearch.tuning._scorer import SoftPromptScorer

__all__ = ["SOFT_META", "SoftPromptResult", "load_soft_prompt", "load_soft_prompt_backend"]

#: promptsearch's own metadata next to PEFT's files.
SOFT_META = "promptsearch_soft.json"
_WEIGHTS = "adapter_model.safetensors"
_KEY = "prompt_embeddings"  # the key PEFT uses for prompt-tuning weights


@dataclass
class SoftPromptResult(TrainingStats):
    """A trained soft prompt and how training went (see :class:`TrainingStats` for the rest).

    Attributes:
        embeddings: The best soft prompt, ``[n_tokens, hidden]``, float32 on CPU.
        config: The configuration used (:class:`SoftPromptConfig` or :class:`BBTConfig`).
        method: ``"prompt_tuning"`` or ``"bbt"``.
        model_name: Name of the model trained on.
    """

    embeddings: torch.Tensor
    config: SoftPromptConfig | BBTConfig
    method: str = "prompt_tuning"
    model_name: str = ""

    @property
    def mode(self) -> str:
        """The tuning mode (``method``), so the result exports as a tuning artifact."""
        return self.method

    @property
    def placement(self) -> str:
        """``"prefix"`` or ``"slot"``."""
        return self.config.placement

    def scorer(self, model: LoadedModel, *, batch_size: int | None = None) -> SoftPromptScorer:
        """A :class:`SoftPromptScorer` with these embeddings, to score prompts on ``model``."""
        from promptsearch.tuning._scorer import SoftPromptScorer

        weight = model.model.get_input_embeddings().weight
        return SoftPromptScorer(
            model, self.embeddings.to(weight.device), placement=self.placement, batch_size=batch_size
        )

    def backend(self, model: LoadedModel, *, batch_size: int | None = None) -> SoftPromptScorer:
        """The backend scoring with this soft prompt (what a tuned trial is scored with)."""
        return self.scorer(model, batch_size=batch_size)

    def save(self, folder: str | Path, model: LoadedModel | None = None) -> Path:
        """Write a PEFT prompt-tuning adapter folder plus ``promptsearch_soft.json``.

        The folder (``adapter_config.json`` + ``adapter_model.safetensors``) loads with
        ``peft.PeftModel.from_pretrained(base_model, folder)``; PEFT always prepends the
        tokens, so a ``"slot"`` prompt means the same only through :func:`load_soft_prompt`.
        ``model`` fills in PEFT's layer and head counts (optional: PEFT infers them on load).

        Returns:
            The folder.
        """
        from peft import PromptTuningConfig
        from safetensors.torch import save_file

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        n_tokens, hidden = (int(s) for s in self.embeddings.shape)
        extra: dict[str, Any] = {}
        if model is not None:
            cfg = (
                model.model.config.get_text_config()
                if hasattr(model.model.config, "get_text_config")
                else model.model.config
            )
            extra = {
                "num_layers": getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layer", None),
                "num_attention_heads": getattr(cfg, "num_attention_heads", None)
                or getattr(cfg, "n_head", None),
            }
        causal = model is None or str(getattr(model.kind, "value", model.kind)) == "causal"
        peft_config = PromptTuningConfig(
            task_type="CAUSAL_LM" if causal else "FEATURE_EXTRACTION",
            num_virtual_tokens=n_tokens,
            token_dim=hidden,
            num_transformer_submodules=1,
            prompt_tuning_init="RANDOM",
            base_model_name_or_path=self.model_name or None,
            inference_mode=True,
            **extra,
        )
        peft_config.save_pretrained(str(path))
        save_file({_KEY: self.embeddings.detach().float().cpu().contiguous()}, str(path / _WEIGHTS))
        meta = {
            "format": 1,
            "method": self.method,
            "placement": self.placement,
            "n_tokens": n_tokens,
            "hidden": hidden,
            "model_name": self.model_name,
            "config": self.config.to_dict(),
            "config_type": type(self.config).__name__,
            "best_step": self.best_step,
            "dev_accuracy": self.dev_accuracy,
            "initial_dev_accuracy": self.initial_dev_accuracy,
            "metric": self.metric,
            "history": [list(h) for h in self.history],
        }
        (path / SOFT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path


def load_soft_prompt(
    model: LoadedModel, folder: str | Path, *, batch_size: int | None = None
) -> SoftPromptScorer:
    """Load a soft prompt saved by :meth:`SoftPromptResult.save` (or any PEFT prompt-tuning folder).

    Returns:
        A :class:`SoftPromptScorer` on ``model``; its ``embeddings`` are the loaded tensor.
        Folders without ``promptsearch_soft.json`` (plain PEFT) use placement ``"prefix"``.

    Raises:
        ModelError: If the folder holds no prompt-tuning weights or they do not fit ``model``.
    """
    from safetensors.torch import load_file

    from promptsearch.tuning._scorer import SoftPromptScorer

    path = Path(folder)
    weights = path / _WEIGHTS
    if not weights.is_file():
        raise ModelError(f"No {_WEIGHTS} in {str(path)!r}; give a folder written by SoftPromptResult.save.")
    tensors = load_file(str(weights))
    if _KEY not in tensors:
        raise ModelError(
            f"{str(weights)!r} has no {_KEY!r} tensor (found {sorted(tensors)}); "
            "it is not a prompt-tuning adapter."
        )
    placement = "prefix"
    meta_path = path / SOFT_META
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        placement = str(meta.get("placement", "prefix"))
        if placement not in ("prefix", "slot"):
            raise ConfigError(f"{str(meta_path)!r} has placement {placement!r}; expected 'prefix' or 'slot'.")
    weight = model.model.get_input_embeddings().weight
    return SoftPromptScorer(
        model, tensors[_KEY].to(weight.device), placement=placement, batch_size=batch_size
    )


def load_soft_prompt_backend(model: LoadedModel, folder: Path, batch_size: int | None) -> SoftPromptScorer:
    """:func:`load_soft_prompt` with the loader signature of a tuning mode."""
    return load_soft_prompt(model, folder, batch_size=batch_size)
