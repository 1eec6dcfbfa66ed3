"""load_model: kind detection, round trips, devices, dtypes and helpful errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import torch
import transformers

from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.models import LoadedModel, ModelKind, detect_kind, load_model, resolve_device, resolve_dtype
from promptsearch.models._loading import context_length, ensure_pad_token
from tests import _tiny

KINDS = {
    "tiny_causal": ModelKind.CAUSAL,
    "tiny_causal_absolute": ModelKind.CAUSAL,
    "tiny_masked": ModelKind.MASKED,
    "tiny_seq2seq": ModelKind.SEQ2SEQ,
}


def _logits(lm: LoadedModel, text: str) -> torch.Tensor:
    enc = lm.tokenizer(text, return_tensors="pt")
    extra: dict[str, Any] = {}
    if lm.kind is ModelKind.SEQ2SEQ:
        extra["decoder_input_ids"] = torch.tensor([[lm.model.config.decoder_start_token_id]])
    with torch.no_grad():
        out: torch.Tensor = lm.model(**enc, **extra).logits.float()
    return out


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.mark.parametrize("fixture", list(KINDS))
def test_saved_folder_round_trips(fixture: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    original: LoadedModel = request.getfixturevalue(fixture)
    folder = _tiny.save_loaded(original, tmp_path / fixture)
    loaded = load_model(folder, device="cpu")
    assert loaded.kind is KINDS[fixture]
    assert loaded.name == str(folder.resolve())
    assert (loaded.device, loaded.dtype) == ("cpu", "float32")
    assert loaded.max_length == original.max_length
    assert not loaded.model.training
    text = "Review: a magnificent movie\nSentiment: positive"
    assert loaded.tokenizer(text)["input_ids"] == original.tokenizer(text)["input_ids"]
    assert loaded.tokenizer.pad_token_id == original.tokenizer.pad_token_id
    assert loaded.tokenizer.padding_side == original.tokenizer.padding_side
    torch.testing.assert_close(_logits(loaded, text), _logits(original, text))


def test_explicit_kind_and_string_path(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    folder = _tiny.save_loaded(tiny_causal, tmp_path / "m")
    assert load_model(str(folder), kind="CAUSAL", device="cpu").kind is ModelKind.CAUSAL
    assert load_model(folder, kind=ModelKind.CAUSAL, device="cpu").kind is ModelKind.CAUSAL


def test_wrong_kind_is_a_model_error(tiny_causal_absolute: LoadedModel, tmp_path: Path) -> None:
    folder = _tiny.save_loaded(tiny_causal_absolute, tmp_path / "m")
    with pytest.raises(ModelError, match="Could not load the model in folder"):
        load_model(folder, kind="seq2seq", device="cpu")


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="Unknown model kind 'decoder'"):
        load_model("anything", kind="decoder")


def test_dtype_applies_and_enters_model_id(tiny_masked: LoadedModel, tmp_path: Path) -> None:
    folder = _tiny.save_loaded(tiny_masked, tmp_path / "m")
    loaded = load_model(folder, dtype="bf16", device="cpu")
    assert loaded.dtype == "bfloat16"
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    assert loaded.model_id == f"{folder.resolve()}@bfloat16"


def test_loaded_model_passes_through_or_is_copied(tiny_causal: LoadedModel) -> None:
    assert load_model(tiny_causal) is tiny_causal
    assert load_model(tiny_causal, device="cpu", dtype="float32", kind="causal") is tiny_causal
    half = load_model(tiny_causal, dtype="bfloat16")
    assert half.dtype == "bfloat16" and next(half.model.parameters()).dtype == torch.bfloat16
    assert next(tiny_causal.model.parameters()).dtype == torch.float32  # the shared one is untouched
    with pytest.raises(ConfigError, match="causal model"):
        load_model(tiny_causal, kind="masked")


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("CPU") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="Unknown device 'gpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match="only 2 CUDA"):
        resolve_device("cuda:2")


def test_resolve_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "mps") == "float32"
    aliases = {"fp32": "float32", "BF16": "bfloat16", "half": "float16", "torch.float16": "float16"}
    for alias, name in aliases.items():
        assert resolve_dtype(alias, "cpu") == name
    with pytest.raises(ConfigError, match="Unknown dtype 'int8'"):
        resolve_dtype("int8", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda") == "float32"


@pytest.mark.parametrize("native", [False, True])
def test_fast_takes_bfloat16_only_where_the_cpu_computes_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, native: bool
) -> None:
    from promptsearch.models import _devices

    _devices.cpu_has_native_bf16.cache_clear()
    _devices._warn_emulated_bf16.cache_clear()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    try:
        assert resolve_dtype("fast", "cpu") == ("bfloat16" if native else "float32")
        assert resolve_dtype("auto", "cpu") == "float32"  # auto never changes numerics on CPU
        with caplog.at_level("WARNING", logger="promptsearch.models._devices"):
            assert resolve_dtype("bfloat16", "cpu") == "bfloat16"  # asked for: kept, with a warning if slow
        assert ("emulated" in caplog.text) is not native and ("--dtype fast" in caplog.text) is not native
    finally:
        _devices.cpu_has_native_bf16.cache_clear()
        _devices._warn_emulated_bf16.cache_clear()


def test_detect_kind() -> None:
    assert detect_kind(transformers.T5Config()) is ModelKind.SEQ2SEQ
    assert detect_kind(transformers.BertConfig()) is ModelKind.MASKED
    assert detect_kind(transformers.RobertaConfig(architectures=["RobertaForMaskedLM"])) is ModelKind.MASKED
    assert detect_kind(transformers.GPT2Config()) is ModelKind.CAUSAL
    assert detect_kind(transformers.LlamaConfig(architectures=["LlamaForCausalLM"])) is ModelKind.CAUSAL


def test_context_length() -> None:
    tok = _tiny.seq2seq_tokenizer()
    assert context_length(transformers.T5Config(), tok) == 512
    tok.model_max_length = int(1e30)
    assert context_length(transformers.T5Config(), tok) == 512
    assert context_length(transformers.GPT2Config(n_positions=1024), tok) == 1024
    tok.model_max_length = 300
    assert context_length(transformers.LlamaConfig(max_position_embeddings=8192), tok) == 300


def test_ensure_pad_token_prefers_eos_then_adds() -> None:
    tok = _tiny.causal_tokenizer(bos=True)
    assert tok.pad_token is None
    model = _tiny.tiny_causal().model
    ensure_pad_token(tok, model)
    assert tok.pad_token == "</s>" and len(tok) == model.get_input_embeddings().weight.shape[0]
    tok = _tiny.causal_tokenizer(bos=True)
    tok.eos_token = None
    n = len(tok)
    ensure_pad_token(tok, model)
    assert tok.pad_token == "<pad>" and len(tok) == n + 1
    assert model.get_input_embeddings().weight.shape[0] == n + 1


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="No folder at"):
        load_model(str(tmp_path / "absent"), device="cpu")
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    with pytest.raises(ModelError, match="is a file"):
        load_model(weights, device="cpu")


@pytest.mark.usefixtures("offline")
def test_hub_id_offline_explains_what_to_do() -> None:
    with pytest.raises(ModelError) as info:
        load_model("HuggingFaceTB/SmolLM2-135M-Instruct", device="cpu")
    message = str(info.value)
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in message
    assert "catalog name such as 'smollm2-135m-instruct'" in message and "local folder" in message


@pytest.mark.usefixtures("offline")
def test_near_catalog_name_suggests_it() -> None:
    with pytest.raises(ModelError, match=r"Did you mean 'smollm2-135m-instruct'\?"):
        load_model("smollm2", device="cpu")


def test_trust_remote_code_is_passed(
    tiny_causal: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _tiny.save_loaded(tiny_causal, tmp_path / "m")
    seen: list[tuple[str, object]] = []

    def spy(cls: Any, name: str) -> None:
        original = cls.from_pretrained

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, kwargs.get("trust_remote_code", "missing")))
            return original(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", wrapper)

    spy(transformers.AutoConfig, "config")
    spy(transformers.AutoTokenizer, "tokenizer")
    spy(transformers.AutoModelForCausalLM, "model")
    load_model(folder, device="cpu")
    assert set(seen) == {("config", False), ("model", False), ("tokenizer", False)}
    seen.clear()
    load_model(folder, device="cpu", trust_remote_code=True)
    assert {name for name, _ in seen} == {"config", "model", "tokenizer"}
    assert {name for name, value in seen if value is True} == {"config", "model", "tokenizer"}


def test_import_is_light() -> None:
    code = (
        "import sys, promptsearch.models as m; m.list_models(); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
