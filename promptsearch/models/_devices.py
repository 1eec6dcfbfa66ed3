"""Device and dtype names: resolve ``"auto"`` and aliases to what torch accepts."""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING

from promptsearch.exceptions import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["cpu_has_native_bf16", "resolve_device", "resolve_dtype", "torch_dtype"]

_logger = logging.getLogger(__name__)

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def resolve_device(device: str = "auto") -> str:
    """Return the concrete device for ``device``: ``"auto"`` picks ``"cuda"`` when available.

    Raises:
        ConfigError: if ``device`` is not one of ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``,
            or names an accelerator this machine lacks.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    import torch

    value = str(device).strip().lower()
    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not _DEVICE_RE.match(value):
        raise ConfigError(f"Unknown device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    if value.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={device!r} but CUDA is not available here. Use device='cpu' or 'auto'."
            )
        index = int(value.split(":")[1]) if ":" in value else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist here."
            )
    if value == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device='mps' but MPS is not available here. Use device='cpu' or 'auto'.")
    return value


def resolve_dtype(dtype: str = "auto", device: str = "cpu") -> str:
    """Return the dtype name for ``dtype`` on ``device`` (a resolved device).

    ``"auto"`` gives bfloat16 on CUDA devices that support it, float32 otherwise (CPU, MPS and
    older GPUs: float16 can overflow in some models). ``"fast"`` is ``"auto"`` that also takes
    bfloat16 on CPUs that compute it natively (AVX512-BF16 or AMX: ~4x float32's speed), and
    float32 on the others, where bfloat16 is emulated (~7x *slower* than float32 measured on an
    AVX2 CPU). Aliases ``fp32``, ``bf16``, ``fp16`` work.

    Raises:
        ConfigError: for an unknown dtype name.

    Example:
        >>> resolve_dtype("auto", "cpu")
        'float32'
    """
    value = str(dtype).strip().lower().removeprefix("torch.")
    if value in ("auto", "fast"):
        if device.startswith("cuda"):
            import torch

            if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
                return "bfloat16"
        if value == "fast" and device == "cpu" and cpu_has_native_bf16():
            return "bfloat16"
        return "float32"
    if value not in _DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}. Use 'auto', 'fast', 'float32', 'bfloat16' or 'float16'.")
    if _DTYPES[value] == "bfloat16" and device == "cpu" and not cpu_has_native_bf16():
        _warn_emulated_bf16()
    return _DTYPES[value]


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), as torch sees it."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


@functools.cache
def _warn_emulated_bf16() -> None:
    _logger.warning(
        "bfloat16 was asked for, but this CPU has no native bfloat16 (no AVX512-BF16 or AMX): it is "
        "emulated, several times slower than float32 (7x measured on an AVX2 CPU). Use dtype 'fast' "
        "(--dtype fast) to get float32 here and bfloat16 where the CPU computes it."
    )


def torch_dtype(name: str) -> torch.dtype:
    """Return the ``torch.dtype`` for a resolved dtype name."""
    import torch

    dtype: torch.dtype = getattr(torch, name)
    return dtype
