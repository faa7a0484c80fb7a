"""What the HTTP backends share: one POST with timeouts, retries with backoff, and errors that say the likely cause.

Proxies: a ``local`` model is reached directly, never through ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (httpx
``trust_env=False``); a ``cloud`` model honours them (a company proxy is how such traffic usually leaves).

Raw prompts: where the policy pins a chat template (``self.template``), Guardrail renders the chat and sends the
text to the server's raw completion endpoint (``raw_endpoint``, ``raw_payload``, ``parse_raw``), so the exact prompt
is ours; its sha256 comes back in ``Completion.prompt_sha256``.

Retries: 429, 5xx and connection errors are retried ``spec.retries`` times, with exponential backoff and jitter,
waiting at least ``Retry-After`` seconds when the server sends it (capped at ``RetryPolicy.max_delay``). Other 4xx
are never retried. Timeouts are not retried either: a model that did not answer in ``spec.timeout`` seconds is
unlikely to answer the same prompt faster, and the pipeline has other candidates.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.errors import ContextOverflow, ModelError, ModelTimeout, ModelUnavailable
from bot.models import context
from bot.models.base import estimate_tokens
from bot.templates import ChatTemplate, sha256_text
from bot.types import ChatMessage, Completion, ModelSpec

# What servers say when the prompt does not fit: OpenAI (code context_length_exceeded), vLLM ("maximum context
# length"), llama-server ("exceeds the available context size"), Anthropic ("prompt is too long"), Ollama and LM
# Studio (various "context length" wordings).
OVERFLOW_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "exceeds the available context size",
    "exceed_context_size",
    "prompt is too long",
    "context length",
    "context window",
)
_OVERFLOW_STATUSES = (400, 413, 422, 500)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between tries; tests pass a tiny ``base_delay`` or a ``sleep`` that records."""

    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        backoff = min(self.max_delay, self.base_delay * 2.0**attempt) * (0.5 + self.jitter() / 2)
        if retry_after is not None:
            return min(self.max_delay, max(retry_after, backoff))
        return backoff


@dataclass(frozen=True)
class Hints:
    """The likely causes a backend names when its server cannot be reached or refuses."""

    unreachable: str
    not_found: str
    unauthorized: str


class HttpChatModel:
    """Base of the HTTP backends: subclasses say where to POST, what to send and how to read the reply."""

    exact_tokens = False

    def __init__(
        self,
        spec: ModelSpec,
        *,
        url: str,
        api_key: str | None = None,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        template: ChatTemplate | None = None,
    ) -> None:
        self.spec = spec
        self.template = template
        self.url = url.rstrip("/")
        self.api_key = api_key
        if client is not None and spec.location == "local" and client.trust_env:
            raise ValueError(f"{spec.name}: a local model's HTTP client must be built with trust_env=False")
        # A local model never goes through an environment proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) nor gets .netrc
        # credentials: its prompt holds the repository's code, which must stay on machines the admin controls.
        self._client = client if client is not None else httpx.Client(trust_env=spec.location != "local")
        self._owns_client = client is None
        self._retry = retry if retry is not None else RetryPolicy()

    # --- what subclasses provide ---------------------------------------------------------------------------------

    def endpoint(self) -> str:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}

    def payload(self, messages: Sequence[ChatMessage], max_tokens: int) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, body: Mapping[str, Any]) -> Completion:
        """Turn a 200 reply into a Completion (``seconds`` is filled in by ``complete``); KeyError on a bad shape."""
        raise NotImplementedError

    def hints(self) -> Hints:
        raise NotImplementedError

    def raw_endpoint(self) -> str:
        """Where a rendered prompt is sent (backends that take raw prompts)."""
        raise NotImplementedError

    def raw_payload(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        raise NotImplementedError

    def parse_raw(self, body: Mapping[str, Any]) -> Completion:
        raise NotImplementedError

    # --- the ChatModel interface ---------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> Completion:
        max_tokens = max_tokens if max_tokens is not None else self.spec.max_output_tokens
        context.ensure_fits(self, messages, reserve_output=max_tokens)
        prompt = self.template.raw_prompt(messages) if self.template is not None else None
        url = self.endpoint() if prompt is None else self.raw_endpoint()
        payload = self.payload(messages, max_tokens) if prompt is None else self.raw_payload(prompt, max_tokens)
        started = time.monotonic()
        body = self._post(url, payload)
        seconds = time.monotonic() - started
        try:
            completion = self.parse(body) if prompt is None else self.parse_raw(body)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(f"{self.spec.name}: unexpected reply from {url}: {exc!r} in {str(body)[:300]}") from exc
        return Completion(
            text=completion.text,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            seconds=seconds,
            model=completion.model,
            finish_reason=completion.finish_reason,
            prompt_sha256=sha256_text(prompt) if prompt is not None else "",
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- one POST, retried ---------------------------------------------------------------------------------------

    def _post(self, url: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        tries = self.spec.retries + 1
        for attempt in range(tries):
            last = attempt == tries - 1
            try:
                response = self._client.post(url, json=payload, headers=self.headers(), timeout=self.spec.timeout)
            except httpx.TimeoutException as exc:
                raise ModelTimeout(
                    f"{self.spec.name}: {url} did not answer within {self.spec.timeout:g} seconds "
                    f"({type(exc).__name__}); raise the model's timeout or use a smaller model"
                ) from exc
            except httpx.TransportError as exc:
                if last:
                    raise ModelUnavailable(
                        f"{self.spec.name}: cannot connect to {url} after {tries} tries ({exc}); "
                        f"{self.hints().unreachable}"
                    ) from exc
                self._retry.sleep(self._retry.delay(attempt, None))
                continue
            if response.status_code == 200:
                return self._json(url, response)
            self._raise_if_final(url, response, tries=attempt + 1, last=last)
            self._retry.sleep(self._retry.delay(attempt, _retry_after(response)))
        raise AssertionError("unreachable: the last try either returns or raises")

    def _json(self, url: str, response: httpx.Response) -> Mapping[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ModelError(f"{self.spec.name}: {url} answered 200 with non-JSON: {response.text[:300]!r}") from exc
        if not isinstance(body, dict):
            raise ModelError(f"{self.spec.name}: {url} answered 200 with {type(body).__name__}, not a JSON object")
        return body

    def _raise_if_final(self, url: str, response: httpx.Response, *, tries: int, last: bool) -> None:
        """Raise for a status that is not retried, or for a retried one on the last try; return to retry."""
        status = response.status_code
        text = response.text[:500]
        where = f"{self.spec.name}: POST {url} returned HTTP {status}"
        if status in _OVERFLOW_STATUSES and any(marker in text.lower() for marker in OVERFLOW_MARKERS):
            raise ContextOverflow(f"{where}: the prompt does not fit the model's context: {text}")
        retryable = status == 429 or status >= 500
        if retryable and not last:
            return
        hints = self.hints()
        if retryable:
            cause = "rate limited" if status == 429 else "the server kept failing"
            raise ModelUnavailable(f"{where} after {tries} tries ({cause}): {text}")
        if status in (401, 403):
            raise ModelUnavailable(f"{where}: {text}; {hints.unauthorized}")
        if status == 404:
            raise ModelUnavailable(f"{where}: {text}; {hints.not_found}")
        raise ModelError(f"{where}: the server refused the request: {text}")


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds; an HTTP date (rare for model APIs) is ignored in favour of backoff."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
