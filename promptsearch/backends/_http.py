"""A small JSON-over-HTTP client for OpenAI-compatible servers (standard library only).

It sends JSON bodies, retries what is worth retrying (429, 5xx, a refused or dropped
connection) with exponential backoff, keeps at most ``max_in_flight`` requests open at once,
and turns every failure into a :class:`~promptsearch.exceptions.ServerError` whose message
says what went wrong and what to do. The API key is sent as a header and kept nowhere else.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from promptsearch.exceptions import ConfigError, ServerError

__all__ = ["ServerClient", "normalize_base_url"]

_logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_BODY = 64 * 2**20  # a JSON answer larger than this is refused (a misbehaving server)


def normalize_base_url(url: str) -> str:
    """``url`` checked (http or https, a host) and without a trailing slash.

    >>> normalize_base_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000/v1'
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            "The openai backend needs base_url, the server's address ending in /v1, e.g. "
            "--base-url http://127.0.0.1:8000/v1."
        )
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"base_url {url!r} is not an http(s) address; give the server's address ending in /v1, "
            "e.g. http://127.0.0.1:8000/v1."
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(f"base_url {url!r} has a query or fragment; give only scheme, host, port and path.")
    return url.strip().rstrip("/")


class ServerClient:
    """JSON requests to one server, with retries, backoff and a cap on requests in flight.

    Args:
        base_url: The API root (``http://host:port/v1``).
        api_key: Sent as ``Authorization: Bearer ...`` when given.
        timeout: Seconds to wait for an answer (per attempt).
        retries: Further attempts after a 429, a 5xx, a timeout or a dropped connection.
        backoff: Seconds before the first retry; doubled for each later one.
        max_in_flight: Requests open at once in :meth:`post_many`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_in_flight: int = 4,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        parsed = urllib.parse.urlsplit(self.base_url)
        path = parsed.path
        #: Where routes outside the API root live (vLLM's ``/tokenize``, ``/health``).
        self.root_url = urllib.parse.urlunsplit(
            (parsed.scheme, parsed.netloc, path[: -len("/v1")] if path.endswith("/v1") else path, "", "")
        )
        if timeout <= 0 or retries < 0 or backoff < 0 or max_in_flight < 1:
            raise ConfigError(
                f"Server options out of range: timeout={timeout} (> 0), retries={retries} (>= 0), "
                f"backoff={backoff} (>= 0), max_in_flight={max_in_flight} (>= 1)."
            )
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_in_flight = int(max_in_flight)
        self.requests_sent = 0

    def __repr__(self) -> str:  # never shows the key
        return f"ServerClient({self.base_url!r})"

    # -- one request ------------------------------------------------------------------------------
    def get(self, path: str, *, root: bool = False) -> Any:
        """``GET`` ``path`` under the API root (or the server's root), as parsed JSON."""
        return self._send("GET", path, None, root=root)

    def post(self, path: str, body: dict[str, Any], *, root: bool = False) -> Any:
        """``POST`` a JSON body to ``path``; the parsed JSON answer."""
        return self._send("POST", path, body, root=root)

    def post_many(
        self,
        path: str,
        bodies: Sequence[dict[str, Any]],
        *,
        root: bool = False,
        done: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """Every body posted, at most ``max_in_flight`` at once; answers in the bodies' order.

        ``done(i)`` is called as body ``i``'s answer arrives (for progress bars).
        """
        if len(bodies) <= 1 or self.max_in_flight == 1:
            out = []
            for i, body in enumerate(bodies):
                out.append(self.post(path, body, root=root))
                if done is not None:
                    done(i)
            return out
        with ThreadPoolExecutor(max_workers=min(self.max_in_flight, len(bodies))) as pool:
            futures = [pool.submit(self.post, path, body, root=root) for body in bodies]
            results = []
            for i, future in enumerate(futures):
                results.append(future.result())
                if done is not None:
                    done(i)
            return results

    def url(self, path: str, *, root: bool = False) -> str:
        return (self.root_url if root else self.base_url) + "/" + path.lstrip("/")

    def _send(self, method: str, path: str, body: dict[str, Any] | None, *, root: bool) -> Any:
        url = self.url(path, root=root)
        data = None if body is None else json.dumps(body).encode()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            request = urllib.request.Request(url, data=data, method=method, headers=self._headers)
            self.requests_sent += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    raw = answer.read(_MAX_BODY + 1)
                if len(raw) > _MAX_BODY:
                    raise ServerError(f"{method} {url}: the answer is over {_MAX_BODY >> 20} MiB; refused.")
                try:
                    return json.loads(raw)
                except ValueError:
                    raise ServerError(
                        f"{method} {url} answered with something that is not JSON ({raw[:120]!r}); is "
                        "this an OpenAI-compatible server? base_url must be its API root, e.g. "
                        "http://127.0.0.1:8000/v1."
                    ) from None
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code in _RETRY_STATUS and not last:
                    _logger.info("%s %s: %d %s; retrying in %.1f s", method, url, exc.code, detail, delay)
                else:
                    raise ServerError(
                        _status_message(method, url, exc.code, detail), status=exc.code
                    ) from None
            except TimeoutError:
                if last:
                    raise ServerError(
                        f"{method} {url}: no answer within {self.timeout:g} s (after {attempt + 1} "
                        "attempts). The server may be overloaded: raise the timeout (backend option "
                        "timeout) or lower max_in_flight."
                    ) from None
                _logger.info("%s %s: timed out; retrying in %.1f s", method, url, delay)
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, (TimeoutError, socket.timeout)) and not last:
                    _logger.info("%s %s: timed out; retrying in %.1f s", method, url, delay)
                elif last:
                    raise ServerError(
                        f"Could not reach the server at {self.base_url} ({reason}) after {attempt + 1} "
                        "attempts. Is it running and is the address right? Start it (see the README, "
                        "'Search prompts for a served model') or fix --base-url; a search that stopped "
                        "here resumes when run again."
                    ) from None
                else:
                    _logger.info("%s %s: %s; retrying in %.1f s", method, url, reason, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's own error message, from an OpenAI-style ``{"error": {"message": ...}}``."""
    try:
        raw = exc.read(65536)
    except Exception:
        return ""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:300]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        if isinstance(parsed.get("detail"), str):
            return str(parsed["detail"])[:300]
        return str(error)[:300]
    return str(parsed)[:300]


def _status_message(method: str, url: str, status: int, detail: str) -> str:
    said = f": {detail}" if detail else ""
    if status == 401 or status == 403:
        return (
            f"{method} {url} was refused ({status}{said}): the API key is missing or wrong. Put the "
            "key in the environment variable the backend reads (OPENAI_API_KEY, or the one named by "
            "the backend option api_key_env)."
        )
    if status == 404:
        hint = (
            "base_url must be the API root, ending in /v1 (e.g. http://127.0.0.1:8000/v1)"
            if not url.split("://", 1)[-1].split("/", 1)[-1].startswith("v1/")
            else "this server does not offer that route"
        )
        return f"{method} {url} was not found (404{said}): {hint}."
    if status == 429:
        return (
            f"{method} {url}: the server is rate limiting (429{said}) and kept doing so after "
            "retries; lower max_in_flight or raise retries."
        )
    if status >= 500:
        return (
            f"{method} {url}: the server failed ({status}{said}) and kept failing after retries; see "
            "its log. A search that stopped here resumes when run again."
        )
    return f"{method} {url} was refused ({status}{said})."
