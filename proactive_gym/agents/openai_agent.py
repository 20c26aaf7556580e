"""``openai:<model>``: any OpenAI-compatible chat-completions server (vLLM, OpenAI, ...).

>>> agent = make_agent("openai:Qwen/Qwen2.5-VL-72B-Instruct",
...                    base_url=["http://gpu1:8000/v1", "http://gpu2:8000/v1"], concurrency=64)
... # doctest: +SKIP

Each observation becomes a chat through :func:`proactive_gym.protocol.to_messages`; images travel as base64
data URLs. Requests are independent, at most ``concurrency`` in flight (a thread pool over one ``httpx``
connection pool; a request waiting for a retry's backoff frees its slot), spread round-robin over the
base URLs. The harness uses :meth:`OpenAIAgent.submit` (one
observation -> a future reply, ``in_flight = concurrency``), so every episode advances as soon as its own
reply arrives; :meth:`OpenAIAgent.act` answers a whole batch. :meth:`OpenAIAgent.check` probes each server
(``GET /models``) before a run: down, wrong model name or refused key -> one ValueError naming the flag. A request that times out, cannot connect,
or gets 408/409/429/5xx, a body that is not JSON or has no choices, is retried on the next base URL after an
exponential backoff with jitter (``Retry-After`` honoured); other 4xx answers fail at once. A server that
refuses connections is skipped for ``DOWN_SECONDS`` while another one is up (retried there without waiting). An item that still
fails does not sink the batch: :meth:`OpenAIAgent.act` returns nothing and raises :class:`OpenAIBatchError`,
which carries the replies that succeeded and one error message per failed item (the harness records those
as per-episode errors; a harness that retries the batch item by item gets each item's settled outcome back
without a new request). A choice whose content is null (a reasoning model that spent its budget thinking)
is the empty reply ``""``; content that is not a string (a list of parts, a number) is turned into text
and scored as any reply. The API key and any Authorization/api-key header value are removed from every
error message. Needs the ``[openai]`` extra (httpx).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from proactive_gym.agents.base import Agent, redact_secrets
from proactive_gym.agents.messages import observation_messages, to_openai_messages

logger = logging.getLogger(__name__)

__all__ = ["OpenAIAgent", "OpenAIBatchError", "OpenAIRequestError", "ServerCheckError", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: A server that refused a connection is skipped for this long while another one is up.
DOWN_SECONDS = 10.0
#: Seconds the pre-run probe of a server (``GET /models``) waits at most.
CHECK_SECONDS = 10.0
#: The command-line flags that set the server, the model and the key, by role (for check()'s messages).
FLAGS = {
    "agent": {"url": "--base-url", "model": "--agent", "key": "--api-key-env"},
    "judge": {"url": "--judge-base-url", "model": "--judge", "key": "--api-key-env"},
}


class ServerCheckError(ValueError):
    """A server failed the pre-run probe (down, does not serve the model, refused the key)."""


class OpenAIRequestError(RuntimeError):
    """One chat-completions request failed for good (after retries, or at once for a non-retryable 4xx)."""


class OpenAIBatchError(RuntimeError):
    """Some items of a batch failed; the others have replies.

    Attributes:
        replies: One entry per item: the reply text, or None where the item failed.
        errors: One entry per item: None where it succeeded, else the error message.

    A harness that knows this type keeps ``replies`` and records ``errors`` per episode; one that does not
    retries the items one by one, which also works (at the cost of repeating the successful requests).
    """

    def __init__(self, replies: list[str | None], errors: list[str | None]) -> None:
        self.replies = replies
        self.errors = errors
        failed = [e for e in errors if e is not None]
        super().__init__(
            f"{len(failed)} of {len(errors)} requests failed; first error: {failed[0] if failed else '-'}"
        )


def _base_urls(base_url: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if base_url is None:
        base_url = os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    raw = base_url.split(",") if isinstance(base_url, str) else list(base_url)
    urls = []
    for item in raw:
        url = str(item).strip().rstrip("/")
        if not url:
            continue
        url = url.removesuffix("/chat/completions")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"openai agent: base_url {item!r} is not an http(s) URL such as http://localhost:8000/v1"
            )
        urls.append(url)
    if not urls:
        raise ValueError("openai agent: base_url is empty; give e.g. http://localhost:8000/v1")
    return urls


def content_text(content: Any) -> str:
    """The reply text of a chat-completions message ``content``: a string as is; None (a reasoning model
    that spent its budget thinking) as ``""``; a list of parts as their texts joined; anything else as its
    JSON text. The env then scores it like any other reply."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    return json.dumps(content, ensure_ascii=False, default=str)


def _check_number(name: str, value: Any, minimum: float, integer: bool) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        raise ValueError(
            f"openai agent: {name} must be {'an integer' if integer else 'a number'} >= {minimum}, "
            f"got {value!r}"
        )
    return value


class OpenAIAgent(Agent):
    """Chat-completions client with bounded concurrency, retries and several servers.

    Args:
        model: Model name the server knows (``Qwen/Qwen2.5-VL-72B-Instruct`` for ``vllm serve`` of it).
        base_url: Base URL (``http://host:8000/v1``), a list of them, or a comma-separated string; requests
            go round-robin over them. Default: ``$OPENAI_BASE_URL``, else the OpenAI API.
        api_key_env: Environment variable holding the API key. Unset is fine for a local vLLM (no header is
            sent) but an error for api.openai.com.
        concurrency: Requests in flight at most.
        timeout: Seconds per request (connect, read, write) before it counts as failed and is retried.
        max_retries: Retries per request after the first try.
        max_new_tokens: ``max_tokens`` of each request (the paper: 50).
        temperature: Sampling temperature (0: greedy, as the paper).
        backoff: Base delay in seconds: attempt k waits about ``backoff * 2**k`` (half fixed, half random),
            at most ``max_backoff``.
        max_backoff: Upper bound of one wait, seconds.
        image_format: ``png`` (lossless, default) or ``jpeg``.
        extra_body: Extra JSON fields for every request (e.g. ``{"chat_template_kwargs": {...}}`` for vLLM).

    Other keyword options are ignored with a warning (the CLI passes only the options a user gave).
    """

    def __init__(
        self,
        model: str,
        base_url: str | list[str] | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_new_tokens: int = 50,
        temperature: float = 0.0,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        image_format: str = "png",
        extra_body: dict[str, Any] | None = None,
        **ignored: Any,
    ) -> None:
        if ignored:
            logger.warning("openai agent: ignoring options it does not use: %s", ", ".join(sorted(ignored)))
        if not isinstance(model, str) or not model.strip():
            raise ValueError("openai agent: give a model name, e.g. openai:gpt-4.1")
        self.model = model.strip()
        self.base_urls = _base_urls(base_url)
        self.concurrency = _check_number("concurrency", concurrency, 1, True)
        self.timeout = float(_check_number("timeout", timeout, 0.001, False))
        self.max_retries = _check_number("max_retries", max_retries, 0, True)
        self.max_new_tokens = _check_number("max_new_tokens", max_new_tokens, 1, True)
        self.temperature = float(_check_number("temperature", temperature, 0, False))
        self.backoff = float(_check_number("backoff", backoff, 0, False))
        self.max_backoff = float(_check_number("max_backoff", max_backoff, 0, False))
        if image_format not in ("png", "jpeg"):
            raise ValueError(f"openai agent: image_format must be 'png' or 'jpeg', got {image_format!r}")
        self.image_format = image_format
        self.extra_body = dict(extra_body or {})
        self.api_key_env = api_key_env
        api_key = os.environ.get(api_key_env, "").strip()
        if not api_key and any(urlparse(u).netloc.endswith("api.openai.com") for u in self.base_urls):
            raise ValueError(f"openai agent: set the API key in ${api_key_env} (or pass api_key_env=NAME)")
        try:
            import httpx
        except ModuleNotFoundError as err:
            raise ImportError("the openai: agent needs httpx: pip install 'proactive_gym[openai]'") from err
        self._httpx = httpx
        self._secrets = (api_key,) if api_key else ()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        # Twice as many threads as slots: a request waiting for its retry's backoff sleeps in its thread
        # without holding a slot (``_slots`` is held only while a request is on the wire).
        self._pool = ThreadPoolExecutor(max_workers=2 * self.concurrency, thread_name_prefix="openai-agent")
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self.in_flight = self.concurrency  # the harness keeps this many submit() calls outstanding
        self._rng = random.Random()  # jitter only; never affects results
        self._lock = threading.Lock()
        self._turn = 0
        self._closed = False
        # Outcomes of the items of the last batch that raised OpenAIBatchError, by observation identity:
        # a harness that retries such a batch item by item gets them back without new requests.
        self._settled: dict[int, tuple[dict[str, Any], str | None, str | None]] = {}
        self._down_until: dict[str, float] = {}  # server -> monotonic time until which it counts as down

    def _clean(self, text: str) -> str:
        """``text`` without the API key or any header value that could hold it."""
        return redact_secrets(text, self._secrets)

    # -- requests ---------------------------------------------------------------------------------------
    def _pick_url(self, index: int) -> str:
        """The server at ``index`` (round-robin), or the next one that did not refuse a connection in the
        last ``DOWN_SECONDS``; when all did, the one at ``index``."""
        now = time.monotonic()
        n = len(self.base_urls)
        with self._lock:
            for k in range(n):
                url = self.base_urls[(index + k) % n]
                if self._down_until.get(url, 0.0) <= now:
                    return url
        return self.base_urls[index % n]

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _first_url_index(self) -> int:
        with self._lock:
            index = self._turn % len(self.base_urls)
            self._turn += 1
        return index

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.max_backoff, self.backoff * (2**attempt))
        delay = cap / 2 + self._rng.uniform(0, cap / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay

    def complete(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> str:
        """Send one chat (OpenAI wire format) and return the reply text, retrying as described above.

        Raises :class:`OpenAIRequestError` when every try failed or the server refused the request.
        """
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens or self.max_new_tokens,
            "temperature": self.temperature,
            **self.extra_body,
        }
        httpx = self._httpx
        last_error = "no attempt made"
        first = self._first_url_index()  # round-robin start; each retry moves on to the next server
        for attempt in range(self.max_retries + 1):
            if self._closed:
                raise OpenAIRequestError("the agent was closed")
            url = self._pick_url(first + attempt)
            retry_after: float | None = None
            refused = False
            try:
                with self._slots:
                    response = self._client.post(f"{url}/chat/completions", json=body)
            except httpx.TimeoutException as err:
                last_error = f"{url}: timed out after {self.timeout:g} s ({type(err).__name__})"
            except (httpx.TransportError, OSError) as err:
                last_error = self._clean(f"{url}: connection failed ({type(err).__name__}: {err})")
                refused = isinstance(err, httpx.ConnectError)
            else:
                status = response.status_code
                if status == 200:
                    reply, problem = self._parse(response)
                    if problem is None:
                        with self._lock:
                            self._down_until.pop(url, None)
                        return reply
                    last_error = self._clean(f"{url}: {problem}")
                elif status in RETRY_STATUSES:
                    last_error = self._clean(f"{url}: HTTP {status}: {response.text[:200]}")
                    header = response.headers.get("Retry-After")
                    if header:
                        try:
                            retry_after = float(header)
                        except ValueError:
                            retry_after = None
                else:
                    raise OpenAIRequestError(
                        self._clean(f"{url}: HTTP {status} (not retried): {response.text[:500]}")
                    )
            if refused:
                with self._lock:
                    self._down_until[url] = time.monotonic() + DOWN_SECONDS
            if attempt < self.max_retries:
                if refused and self._pick_url(first + attempt + 1) != url:
                    continue  # the server is down: go straight to another one that is not
                wait = self._delay(attempt, retry_after)
                logger.debug("openai agent: %s; retry %d in %.2f s", last_error, attempt + 1, wait)
                self._sleep(wait)
        raise OpenAIRequestError(f"failed after {self.max_retries + 1} attempts; last error: {last_error}")

    @staticmethod
    def _parse(response: Any) -> tuple[str, str | None]:
        """(reply, None) for a usable body, else ("", problem)."""
        try:
            data = response.json()
        except ValueError:
            return "", f"response is not JSON: {response.text[:100]!r}"
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            return "", f"response has no choices: {str(data)[:200]}"
        message = choices[0].get("message")
        if not isinstance(message, dict):
            return "", f"response choice has no message: {str(choices[0])[:200]}"
        return content_text(message.get("content")), None

    def generate(
        self, conversations: list[list[dict[str, Any]]], max_new_tokens: int | None = None
    ) -> list[str]:
        """Replies for HF-style chat conversations, ``concurrency`` requests at a time.

        Raises :class:`OpenAIBatchError` (with the successful replies) when any item failed.
        """
        if self._closed:
            raise RuntimeError("openai agent: generate() after close()")

        def one(conv: list[dict[str, Any]]) -> str:
            return self.complete(to_openai_messages(conv, self.image_format), max_new_tokens)

        futures = [self._pool.submit(one, conv) for conv in conversations]
        replies: list[str | None] = []
        errors: list[str | None] = []
        for future in futures:
            try:
                replies.append(future.result())
                errors.append(None)
            except Exception as err:  # noqa: BLE001 - every failure becomes a per-item error
                replies.append(None)
                errors.append(self._clean(f"{type(err).__name__}: {err}"))
        if any(e is not None for e in errors):
            raise OpenAIBatchError(replies, errors)
        return [r for r in replies if r is not None]

    def submit(self, observation: dict[str, Any], info: dict[str, Any]) -> Future[str]:
        """Start the request for one observation; the future holds its reply or its
        :class:`OpenAIRequestError`. Requests beyond ``concurrency`` wait for a free slot."""
        if self._closed:
            raise RuntimeError("openai agent: submit() after close()")
        messages = observation_messages(observation)  # a bad observation raises here, not in a thread
        return self._pool.submit(lambda: self.complete(to_openai_messages(messages, self.image_format)))

    def check(self, role: str = "agent") -> None:
        """Probe every base URL with ``GET /models`` (at most ``CHECK_SECONDS`` each) before a run.

        Raises :class:`ServerCheckError` (a ValueError) with one line naming the flag to fix when a server
        cannot be reached, refuses the API key, or does not list the model. A server without a ``/models``
        route (404) or with an unreadable list is let through with a warning.
        """
        flags = FLAGS.get(role, FLAGS["agent"])
        httpx = self._httpx
        timeout = httpx.Timeout(min(self.timeout, CHECK_SECONDS))
        for url in self.base_urls:
            where = f"{flags['url']} {url}"
            try:
                response = self._client.get(f"{url}/models", timeout=timeout)
            except httpx.TimeoutException:
                raise ServerCheckError(
                    f"{where}: no answer within {min(self.timeout, CHECK_SECONDS):g} s; is the server up? "
                    f"Fix {flags['url']}"
                ) from None
            except (httpx.TransportError, OSError) as err:
                raise ServerCheckError(
                    self._clean(
                        f"{where}: cannot connect ({type(err).__name__}: {err}); start the server or fix "
                        f"{flags['url']}"
                    )
                ) from None
            status = response.status_code
            if status in (401, 403):
                has_key = "a key was sent" if self._secrets else "no key was sent"
                raise ServerCheckError(
                    f"{where}: the server refused the API key (HTTP {status}, {has_key}); put a valid key in "
                    f"${self.api_key_env} or name another variable with {flags['key']}"
                )
            if status == 404:
                logger.warning("openai agent: %s has no /models route; cannot check the model name", url)
                continue
            if status != 200:
                raise ServerCheckError(
                    self._clean(f"{where}: GET /models answered HTTP {status}: {response.text[:200]}")
                )
            try:
                ids = [str(m["id"]) for m in response.json()["data"]]
            except (ValueError, KeyError, TypeError):
                logger.warning("openai agent: cannot read the model list of %s; not checking the name", url)
                continue
            if self.model not in ids:
                served = ", ".join(repr(i) for i in ids[:10]) or "no model"
                raise ServerCheckError(
                    f"{flags['model']}: the server at {url} does not serve {self.model!r}; it serves {served}. "
                    f"Fix the model name in {flags['model']} (openai:<name>)"
                )

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """One reply per observation (see :meth:`generate`).

        When a batch raised :class:`OpenAIBatchError`, asking again for one of its observations alone (the
        same object, as a harness that retries item by item does) returns its reply or raises its error
        at once, without another request: a dead server then costs one round of retries, not one per item.
        """
        if len(observations) == 1 and id(observations[0]) in self._settled:
            obs, reply, error = self._settled.pop(id(observations[0]))
            if obs is observations[0]:
                if error is not None:
                    raise OpenAIRequestError(error)
                return [reply or ""]
        self._settled = {}
        try:
            return self.generate([observation_messages(obs) for obs in observations])
        except OpenAIBatchError as err:
            self._settled = {
                id(obs): (obs, reply, error)
                for obs, reply, error in zip(observations, err.replies, err.errors, strict=True)
            }
            raise

    def close(self) -> None:
        """Stop the worker threads and close the connections. Safe to call twice. Requests still queued are
        cancelled; one in flight (a run stopped with Ctrl-C) is not waited for."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def describe(self) -> dict[str, Any]:
        """Model, servers and request settings (never the API key), for the run summary."""
        info = super().describe()
        info.update(
            model=self.model,
            base_url=self.base_urls,
            concurrency=self.concurrency,
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            image_format=self.image_format,
        )
        if self.extra_body:
            info["extra_body"] = self.extra_body
        return info
