"""An in-process OpenAI-compatible server over a tiny ``transformers`` model, shaped like vLLM's.

It answers the routes the ``openai`` backend uses, as vLLM answers them: ``GET /v1/models``,
``GET /health``, ``POST /tokenize``, ``POST /v1/completions`` (text or token-id prompts, one
or a list; ``echo`` with prompt log-probabilities, the first ``null``; top log-probabilities
capped at :attr:`FakeServer.max_logprobs`; stop strings, ``max_tokens``, ``temperature``,
``top_p`` and ``seed``) and ``POST /v1/chat/completions``. Switches make it misbehave the
ways real servers do: no prompt log-probabilities (llama.cpp, Ollama), no ``/tokenize``, an
API key, failing statuses for the next requests, slowness, a shutdown in the middle.

The real server (vLLM) is tested the same way when CI starts it (``tests/backends/test_served.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch

from promptsearch.models import LoadedModel

__all__ = ["FakeServer", "serve"]


@dataclass
class FakeServer:
    """What the server serves and how it misbehaves (attributes may change while it runs)."""

    lm: LoadedModel
    served_name: str = "tiny"
    max_logprobs: int = 20
    prompt_logprobs: bool = True
    tokenize_route: bool = True
    token_ids: bool = True  # honours return_tokens_as_token_ids (vLLM does)
    api_key: str | None = None
    fail_next: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- model work ---------------------------------------------------------------------------
    def token_text(self, token: int) -> str:
        return str(self.lm.tokenizer.decode([token]))

    def prompt_ids(self, prompt: Any) -> list[list[int]]:
        tok = self.lm.tokenizer
        if isinstance(prompt, str):
            return [list(tok(prompt)["input_ids"])]
        if prompt and all(isinstance(t, int) for t in prompt):
            return [list(prompt)]
        return [list(tok(p)["input_ids"]) if isinstance(p, str) else list(p) for p in prompt]

    def logits(self, ids: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return self.lm.model(input_ids=torch.tensor([ids])).logits[0].float()

    def complete(self, ids: list[int], body: dict[str, Any], seed: int | None) -> dict[str, Any]:
        tok = self.lm.tokenizer
        k = body.get("logprobs")
        max_tokens = int(body.get("max_tokens", 16))
        temperature = float(body.get("temperature", 1.0))
        top_p = float(body.get("top_p", 1.0))
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        generator = torch.Generator().manual_seed(seed if seed is not None else 0)
        out: list[int] = []
        tops: list[dict[str, float]] = []
        picked: list[float] = []
        text = ""
        finish = "length"
        for _ in range(max_tokens):
            logp = torch.log_softmax(self.logits(ids + out)[-1], dim=-1)
            if temperature == 0:
                token = int(logp.argmax())
            else:
                probs = torch.softmax(logp / temperature, dim=-1)
                sorted_p, order = probs.sort(descending=True)
                keep = (sorted_p.cumsum(0) - sorted_p) < top_p
                probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
                token = int(torch.multinomial(probs / probs.sum(), 1, generator=generator))
            if k is not None:
                values, index = logp.topk(int(k))
                by_id = self.token_ids and body.get("return_tokens_as_token_ids")
                name = (lambda t: f"token_id:{t}") if by_id else self.token_text
                tops.append({name(int(i)): float(v) for v, i in zip(values, index)})
                picked.append(float(logp[token]))
            if token == tok.eos_token_id:
                finish = "stop"
                break
            out.append(token)
            text = tok.decode(out, skip_special_tokens=True)
            cut = min((p for p in (text.find(s) for s in stop) if p >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
                break
        choice: dict[str, Any] = {"text": text, "finish_reason": finish, "logprobs": None}
        if k is not None:
            tokens = [self.token_text(t) for t in out]
            logprobs: dict[str, Any] = {"tokens": tokens, "token_logprobs": picked, "top_logprobs": tops}
            if body.get("echo"):
                if self.prompt_logprobs:
                    logp = torch.log_softmax(self.logits(ids), dim=-1)
                    prompt_lp = [None] + [float(logp[i, ids[i + 1]]) for i in range(len(ids) - 1)]
                    logprobs["token_logprobs"] = prompt_lp + picked
                    logprobs["tokens"] = [self.token_text(t) for t in ids] + tokens
                    logprobs["top_logprobs"] = [None] * len(ids) + tops
                choice["text"] = tok.decode(ids) + text
            choice["logprobs"] = logprobs
        return {"choice": choice, "completion_tokens": len(out), "prompt_tokens": len(ids)}


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenAI/1"
    state: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "BadRequestError", "code": status}})

    def _gate(self) -> bool:
        state = self.state
        if state.delay:
            time.sleep(state.delay)
        if state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._error(401, "Unauthorized")
            return False
        with state.lock:
            status = state.fail_next.pop(0) if state.fail_next else None
        if status is not None:
            self._error(status, f"injected failure {status}")
            return False
        return True

    def do_GET(self) -> None:
        if not self._gate():
            return
        state = self.state
        if self.path == "/health":
            self._send(200, {})
        elif self.path == "/v1/models":
            entry = {
                "id": state.served_name,
                "object": "model",
                "created": int(time.time()),
                "owned_by": "vllm",
                "root": state.lm.name,
                "parent": None,
                "max_model_len": state.lm.max_length,
            }
            self._send(200, {"object": "list", "data": [entry]})
        else:
            self._error(404, "Not Found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._error(400, "malformed JSON")
            return
        if not self._gate():
            return
        state = self.state
        state.requests.append((self.path, body))
        if self.path == "/tokenize" and state.tokenize_route:
            ids = state.lm.tokenizer(body["prompt"], add_special_tokens=body.get("add_special_tokens", True))
            tokens = list(ids["input_ids"])
            self._send(200, {"count": len(tokens), "max_model_len": state.lm.max_length, "tokens": tokens})
            return
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            self._error(404, "Not Found")
            return
        if body.get("model") != state.served_name:
            self._error(404, f"The model `{body.get('model')}` does not exist.")
            return
        k = body.get("logprobs")
        if isinstance(k, int) and k > state.max_logprobs:
            self._error(400, f"Requested sample logprobs of {k}, which is greater than max allowed: 20")
            return
        if self.path == "/v1/chat/completions":
            tok = state.lm.tokenizer
            message = body["messages"][-1]["content"]
            text = (
                tok.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
                if getattr(tok, "chat_template", None)
                else message + "\n"
            )
            prompts = state.prompt_ids(text)
        else:
            prompts = state.prompt_ids(body["prompt"])
        choices = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        with state.lock:
            for index, ids in enumerate(prompts):
                done = state.complete(ids, body, body.get("seed"))
                choice = done["choice"]
                if self.path == "/v1/chat/completions":
                    choice = {
                        "message": {"role": "assistant", "content": choice["text"]},
                        "finish_reason": "stop",
                    }
                choices.append({"index": index, **choice})
                usage["prompt_tokens"] += done["prompt_tokens"]
                usage["completion_tokens"] += done["completion_tokens"]
        choices.reverse()  # out of order, as a server may send them: clients must read `index`
        self._send(200, {"id": "cmpl-1", "object": "text_completion", "choices": choices, "usage": usage})


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left: not the test's business


@contextmanager
def serve(lm: LoadedModel, **settings: Any) -> Iterator[FakeServer]:
    """A running server on 127.0.0.1 (a free port); ``state.url`` is its ``/v1`` root."""
    state = FakeServer(lm, **settings)
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
