"""An unknown model name without a reachable hub fails at once, with the catalog's suggestion."""

from __future__ import annotations

import time
from typing import Any

import huggingface_hub.constants
import pytest
import transformers

from promptsearch.exceptions import ModelError
from promptsearch.models import _loading, load_model


@pytest.fixture()
def no_hub_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record from_pretrained calls (and fail them) instead of reaching any hub."""
    calls: list[dict[str, Any]] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise OSError("from_pretrained was called")

    for cls in (transformers.AutoConfig, transformers.AutoTokenizer, transformers.AutoModelForCausalLM):
        monkeypatch.setattr(cls, "from_pretrained", refuse)
    return calls


@pytest.fixture()
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline mode off, as for a user who has not set HF_HUB_OFFLINE."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_offline_mode_fails_at_once(
    monkeypatch: pytest.MonkeyPatch, no_hub_calls: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError) as info:
        load_model("smollm2-135m", device="cpu")
    message = str(info.value)
    assert "Did you mean 'smollm2-135m-instruct'?" in message
    assert "HF_HUB_OFFLINE is set" in message and "local folder" in message
    assert no_hub_calls == []


@pytest.mark.usefixtures("online")
def test_unreachable_hub_fails_within_seconds(
    monkeypatch: pytest.MonkeyPatch, no_hub_calls: list[dict[str, Any]]
) -> None:
    # Nothing listens on port 1: the probe is refused at once, as a hub without network would be.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:1")
    assert (_loading._hub_unreachable() or "").startswith("no answer from http://127.0.0.1:1")
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"Did you mean 'smollm2-135m-instruct'\?"):
        load_model("smollm2-135m", device="cpu")
    assert time.perf_counter() - started < 5
    assert no_hub_calls == []


@pytest.mark.usefixtures("online")
def test_reachable_hub_is_asked(monkeypatch: pytest.MonkeyPatch, no_hub_calls: list[dict[str, Any]]) -> None:
    monkeypatch.setattr(_loading, "_hub_unreachable", lambda: None)
    with pytest.raises(ModelError, match="Could not load 'org/model' from the Hugging Face hub"):
        load_model("org/model", device="cpu")
    assert no_hub_calls and "local_files_only" not in no_hub_calls[0]


@pytest.mark.usefixtures("online")
def test_gateway_error_counts_as_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Response:
        status_code = 502

    class Session:
        def head(self, url: str, timeout: float) -> Response:
            return Response()

    monkeypatch.setattr(huggingface_hub, "get_session", Session)
    assert _loading._hub_unreachable() == f"{huggingface_hub.constants.ENDPOINT} answered HTTP 502"


def test_cached_hub_model_loads_without_the_hub(
    monkeypatch: pytest.MonkeyPatch, no_hub_calls: list[dict[str, Any]]
) -> None:
    monkeypatch.setattr(_loading, "_hub_unreachable", lambda: "HF_HUB_OFFLINE is set")
    monkeypatch.setattr(_loading, "_in_hub_cache", lambda hub_id: hub_id == "org/cached")
    with pytest.raises(ModelError, match="Could not load 'org/cached'"):  # the spy refuses the load
        load_model("org/cached", device="cpu")
    assert no_hub_calls and all(call.get("local_files_only") is True for call in no_hub_calls)
    with pytest.raises(ModelError, match="cannot be reached"):
        load_model("org/absent", device="cpu")


def test_in_hub_cache_reads_the_cache(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "models--org--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--org--cached" / "refs").mkdir()
    (tmp_path / "models--org--cached" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert _loading._in_hub_cache("org/cached")
    assert not _loading._in_hub_cache("org/absent")
    assert not _loading._in_hub_cache("not a valid id!")
