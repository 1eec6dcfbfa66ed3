"""Result of prompt-based fine-tuning; saved as a PEFT LoRA adapter or a full model folder."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ModelError
from promptsearch.tuning._common import TrainingStats
from promptsearch.tuning._config import FinetuneConfig

if TYPE_CHECKING:
    import torch

    from promptsearch.models import LoadedModel

__all__ = ["FINETUNE_META", "FinetuneResult", "content_digest", "load_finetuned"]

#: promptsearch's metadata next to the adapter or model files.
FINETUNE_META = "promptsearch_finetune.json"


def content_digest(tensors: dict[str, torch.Tensor]) -> str:
    """Short content hash of named tensors (names the tuned model, so score caches never mix)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


@dataclass
class FinetuneResult(TrainingStats):
    """A fine-tuned model and how training went (see :class:`TrainingStats` for the rest; its
    steps are epochs here, and epoch 0 is before training).

    Attributes:
        model: The tuned model as a :class:`~promptsearch.models.LoadedModel` (LoRA merged
            into the weights), named ``"<base>+<mode>-<hash>"``; score it with any scorer.
        config: The configuration used.
        base_name: Name of the model that was fine-tuned.
        adapter: LoRA weights as PEFT saves them (``None`` for full fine-tuning).
        adapter_config: PEFT's ``LoraConfig`` (``None`` for full fine-tuning).
    """

    model: LoadedModel
    config: FinetuneConfig
    base_name: str = ""
    adapter: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    adapter_config: Any = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        """``lora`` or ``full``, so the result exports as a tuning artifact."""
        return self.config.mode

    def backend(self, model: LoadedModel | None = None, *, batch_size: int | None = None) -> Any:
        """The ``hf`` backend of the tuned model (``model``, the base, is not needed)."""
        from promptsearch.backends import hf_backend

        return hf_backend(self.model, batch_size=batch_size)

    def save(self, folder: str | Path) -> Path:
        """Write the result: a PEFT adapter folder (LoRA) or a ``save_pretrained`` model (full).

        LoRA folders (``adapter_config.json`` + ``adapter_model.safetensors``) load with
        ``peft.PeftModel.from_pretrained``; full folders with :func:`load_finetuned` or
        ``load_model``. Both get a
        ``promptsearch_finetune.json``; weights are safetensors only.
        """
        from safetensors.torch import save_file

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        if self.adapter is not None:
            self.adapter_config.save_pretrained(str(path))
            save_file(self.adapter, str(path / "adapter_model.safetensors"))
        else:
            self.model.model.save_pretrained(str(path), safe_serialization=True)
            self.model.tokenizer.save_pretrained(str(path))
        meta = {
            "format": 1,
            "mode": self.config.mode,
            "name": self.model.name,
            "base_name": self.base_name,
            "config": self.config.to_dict(),
            "best_step": self.best_step,
            "dev_accuracy": self.dev_accuracy,
            "initial_dev_accuracy": self.initial_dev_accuracy,
            "metric": self.metric,
            "history": [list(h) for h in self.history],
        }
        (path / FINETUNE_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path


def load_finetuned(base_model: LoadedModel, folder: str | Path) -> LoadedModel:
    """Load a fine-tuned model saved by :meth:`FinetuneResult.save`.

    LoRA: the adapters are applied to a deep copy of ``base_model`` and merged (the base is
    not modified), exactly as at the end of :func:`finetune`, so scores are identical. Full:
    the saved weights are loaded into a deep copy of ``base_model`` (same modules, device and
    dtype as in training, so scores are identical too); the folder also loads on its own
    with :func:`~promptsearch.models.load_model`.

    Raises:
        ModelError: If the folder was not written by :meth:`FinetuneResult.save`.
    """
    path = Path(folder)
    meta_path = path / FINETUNE_META
    if not meta_path.is_file():
        raise ModelError(
            f"No {FINETUNE_META} in {str(path)!r}; give a folder written by FinetuneResult.save."
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    name = str(meta.get("name") or path.resolve())
    if meta.get("mode") == "lora":
        from peft import PeftModel

        # PEFT falls back to a pickled adapter_model.bin, then to the Hub, when a file is missing:
        # only the local safetensors adapter is loaded here.
        absent = [n for n in ("adapter_config.json", "adapter_model.safetensors") if not (path / n).is_file()]
        if absent:
            raise ModelError(
                f"{str(path)!r} lacks {absent}; the LoRA adapter cannot be loaded. Export it again."
            )
        with warnings.catch_warnings():  # PEFT reads a property that transformers 5 deprecates
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            peft_model = PeftModel.from_pretrained(
                copy.deepcopy(base_model.model), str(path), local_files_only=True
            )
        net = peft_model.merge_and_unload()
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return dataclasses.replace(base_model, model=net, name=name)
    return dataclasses.replace(base_model, model=_load_full(base_model, path), name=name)


def _load_full(base_model: LoadedModel, path: Path) -> Any:
    """A deep copy of the base model with the saved weights (the same modules as in training)."""
    from safetensors.torch import load_file

    files = sorted(path.glob("model*.safetensors"))
    if not files:
        raise ModelError(f"No model*.safetensors in {str(path)!r}; the folder is not a saved full fine-tune.")
    state: dict[str, Any] = {}
    for f in files:
        state.update(load_file(str(f)))
    net = copy.deepcopy(base_model.model)
    missing, unexpected = net.load_state_dict(state, strict=False)
    loaded_ptrs = {p.data_ptr() for name, p in net.state_dict().items() if name in state}
    untied = [k for k in missing if net.state_dict()[k].data_ptr() not in loaded_ptrs]
    if unexpected or untied:
        raise ModelError(
            f"The weights in {str(path)!r} do not fit {base_model.name!r} (missing {untied[:5]}, "
            f"unexpected {unexpected[:5]}); load it with the base model it was fine-tuned from."
        )
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
