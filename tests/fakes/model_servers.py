"""Scripted model servers over real HTTP on 127.0.0.1, speaking the wire formats Guardrail's backends use.

    with FakeOllama() as ollama, FakeAnthropic() as cloud:
        ollama.script(Reply("--- a/x.py ..."), ollama.rate_limited(retry_after=1))
        spec = ollama.model_spec(name="local")      # backend, url and model filled in
        ...
        assert cloud.chat_requests == []            # the cloud received nothing

What a server answers, in this order: the next scripted reply (``script``), else ``respond(request_json)`` when given,
else ``default``. A ``Reply`` becomes the API's real success shape with its usage; an ``ErrorReply`` is sent as is
(``error``, ``rate_limited``, ``server_error``, ``overflow`` build one in the API's own error shape). Either can carry a
``delay`` to force a client timeout. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from bot.types import ModelSpec


@dataclass(frozen=True)
class Reply:
    """A successful answer. ``finish_reason`` is ``stop`` or ``length``, mapped to each API's word."""

    text: str = "OK"
    prompt_tokens: int = 12
    completion_tokens: int = 3
    finish_reason: str = "stop"
    delay: float = 0.0


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error: ``body`` is sent as JSON (a dict) or text (a str)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


Scripted = Reply | ErrorReply
Responder = Callable[[Any], Scripted]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # None for a body that is empty or not JSON


def unused_port() -> int:
    """A loopback port nothing listens on (for "connection refused" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FakeModelServer:
    """The scripted HTTP server; subclasses give the paths and the shapes of one API."""

    backend: ClassVar[str]
    chat_path: ClassVar[str]
    raw_path: ClassVar[str] = ""  # the raw-prompt completion endpoint, where the API has one
    url_suffix: ClassVar[str] = ""

    def __init__(
        self,
        *,
        default: Scripted | None = None,
        respond: Responder | None = None,
        models: tuple[str, ...] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.default: Scripted = default if default is not None else Reply()
        self.respond = respond
        self.models = models  # None: any model name is served
        self.api_key = api_key  # None: no key is checked
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not started; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The URL to put in a ModelSpec."""
        return self.base_url + self.url_suffix

    def script(self, *replies: Scripted) -> None:
        """Queue replies, answered in order before ``respond``/``default`` take over."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat requests received (not model listings)."""
        return [r for r in self.requests if r.method == "POST" and r.path == self.chat_path]

    @property
    def raw_requests(self) -> list[RecordedRequest]:
        """The raw-prompt completion requests received (a model with a pinned template sends these)."""
        return [r for r in self.requests if r.method == "POST" and self.raw_path and r.path == self.raw_path]

    def model_spec(self, **overrides: Any) -> ModelSpec:
        """A ModelSpec pointing at this server; ``overrides`` set any other field."""
        fields: dict[str, Any] = {
            "name": f"fake-{self.backend}",
            "backend": self.backend,
            "model": self.models[0] if self.models else "fake-model",
            "location": "cloud" if self.backend == "anthropic" else "local",
            "url": self.url,
            "timeout": 5.0,
        }
        fields.update(overrides)
        return ModelSpec(**fields)

    @classmethod
    def slow(cls, seconds: float, reply: Reply | None = None) -> Reply:
        return replace(reply or Reply(), delay=seconds)

    @classmethod
    def error(
        cls, status: int, message: str, *, kind: str = "", headers: Mapping[str, str] | None = None
    ) -> ErrorReply:
        raise NotImplementedError

    @classmethod
    def rate_limited(cls, retry_after: float = 1) -> ErrorReply:
        return cls.error(
            429,
            "Rate limit reached; please try again later.",
            kind="rate_limit_error",
            headers={"Retry-After": f"{retry_after:g}"},
        )

    @classmethod
    def server_error(cls, status: int = 500) -> ErrorReply:
        return cls.error(status, "internal server error", kind="api_error")

    @classmethod
    def overflow(cls) -> ErrorReply:
        """The API's own "the prompt does not fit" error."""
        raise NotImplementedError

    # --- what subclasses provide ---------------------------------------------------------------------------------

    def check(self, request: RecordedRequest) -> ErrorReply | None:
        """A refusal the real API would give for this request (missing key, unknown model), or None."""
        return None

    def success(self, request: Any, reply: Reply) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, path: str) -> dict[str, Any] | None:
        """The answer to a GET (model listings), or None for 404."""
        return None

    # --- the request path ----------------------------------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> tuple[int, Any, Mapping[str, str], float]:
        with self._lock:
            self.requests.append(request)
        if request.method == "GET":
            listing = self.get(request.path)
            return (200, listing, {}, 0.0) if listing is not None else (404, {"error": "not found"}, {}, 0.0)
        if request.path not in (self.chat_path, self.raw_path or self.chat_path):
            return 404, {"error": f"fake {self.backend}: no route {request.path}"}, {}, 0.0
        refusal = self.check(request)
        if refusal is not None:
            return refusal.status, refusal.body, refusal.headers, refusal.delay
        scripted = self._next(request.json)
        if isinstance(scripted, ErrorReply):
            return scripted.status, scripted.body, scripted.headers, scripted.delay
        return 200, self.success(request.json, scripted), {}, scripted.delay

    def _next(self, body: Any) -> Scripted:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.respond is not None:
            return self.respond(body)
        return self.default

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _next_id(self) -> int:
        return next(self._ids)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has gone away before a delayed answer: expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(fake: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload, extra_headers, delay = fake._answer(
                RecordedRequest(self.command, self.path, headers, body)
            )
            fake._wait(delay)
            is_text = isinstance(payload, str)
            data = payload.encode() if is_text else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``fake.requests`` instead."""

    return Handler


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- OpenAI chat completions ------------------------------------------------------------------------------------


class FakeOpenAI(FakeModelServer):
    """``POST /v1/chat/completions`` and ``GET /v1/models``, as OpenAI, llama-server, vLLM and Ollama's /v1 answer."""

    backend = "openai"
    chat_path = "/v1/chat/completions"
    raw_path = "/v1/completions"
    url_suffix = "/v1"

    @classmethod
    def error(
        cls, status: int, message: str, *, kind: str = "", headers: Mapping[str, str] | None = None
    ) -> ErrorReply:
        body = {"error": {"message": message, "type": kind or "invalid_request_error", "param": None, "code": None}}
        return ErrorReply(status, body, dict(headers or {}))

    @classmethod
    def overflow(cls) -> ErrorReply:
        body = {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                "9013 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
        return ErrorReply(400, body)

    @classmethod
    def llama_server_overflow(cls) -> ErrorReply:
        """llama-server's answer when the prompt exceeds ``--ctx-size``."""
        body = {
            "error": {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 9013,
                "n_ctx": 8192,
            }
        }
        return ErrorReply(400, body)

    def check(self, request: RecordedRequest) -> ErrorReply | None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error(401, "Incorrect API key provided.", kind="invalid_request_error")
        model = (request.json or {}).get("model")
        if self.models is not None and model not in self.models:
            return self.error(404, f"The model `{model}` does not exist or you do not have access to it.")
        return None

    def success(self, request: Any, reply: Reply) -> dict[str, Any]:
        if "prompt" in request:  # the legacy completions API: a raw prompt in, choices[].text out
            return {
                "id": f"cmpl-fake{self._next_id()}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": request.get("model", ""),
                "choices": [{"index": 0, "text": reply.text, "logprobs": None, "finish_reason": reply.finish_reason}],
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                },
            }
        return {
            "id": f"chatcmpl-fake{self._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }

    def get(self, path: str) -> dict[str, Any] | None:
        if path != "/v1/models":
            return None
        names = self.models or ("fake-model",)
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names],
        }


# --- Ollama /api/chat -------------------------------------------------------------------------------------------


class FakeOllama(FakeModelServer):
    """``POST /api/chat`` (``stream: false`` only), ``GET /api/tags`` and ``GET /api/version``, as Ollama answers."""

    backend = "ollama"
    chat_path = "/api/chat"
    raw_path = "/api/generate"

    @classmethod
    def error(
        cls, status: int, message: str, *, kind: str = "", headers: Mapping[str, str] | None = None
    ) -> ErrorReply:
        return ErrorReply(status, {"error": message}, dict(headers or {}))

    @classmethod
    def overflow(cls) -> ErrorReply:
        # Ollama mostly truncates silently (hence Guardrail's own pre-check); newer runners refuse like this.
        return cls.error(400, "the input length exceeds the context length")

    def check(self, request: RecordedRequest) -> ErrorReply | None:
        body = request.json or {}
        if body.get("stream", True) is not False:
            return self.error(400, "fake Ollama answers only stream=false (real Ollama would stream NDJSON)")
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return self.error(404, f'model "{model}" not found, try pulling it first')
        return None

    def success(self, request: Any, reply: Reply) -> dict[str, Any]:
        answer: dict[str, Any] = (
            {"response": reply.text}  # /api/generate
            if "prompt" in request
            else {"message": {"role": "assistant", "content": reply.text}}
        )
        return {
            "model": request.get("model", ""),
            "created_at": _now_iso(),
            **answer,
            "done": True,
            "done_reason": reply.finish_reason,
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": reply.prompt_tokens,
            "prompt_eval_duration": 400_000,
            "eval_count": reply.completion_tokens,
            "eval_duration": 500_000,
        }

    def get(self, path: str) -> dict[str, Any] | None:
        if path == "/api/version":
            return {"version": "0.12.0"}
        if path != "/api/tags":
            return None
        names = self.models or ("fake-model",)
        return {"models": [{"name": n, "model": n, "modified_at": _now_iso(), "size": 0, "digest": ""} for n in names]}


# --- Anthropic Messages -----------------------------------------------------------------------------------------

_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens"}


class FakeAnthropic(FakeModelServer):
    """``POST /v1/messages``, refusing what the real API refuses (no key, no version, no max_tokens, system role)."""

    backend = "anthropic"
    chat_path = "/v1/messages"

    def __init__(self, *, api_key: str | None = "test-key", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)

    def model_spec(self, **overrides: Any) -> ModelSpec:
        return super().model_spec(**{"api_key_env": "ANTHROPIC_API_KEY", **overrides})

    @classmethod
    def error(
        cls, status: int, message: str, *, kind: str = "", headers: Mapping[str, str] | None = None
    ) -> ErrorReply:
        body = {"type": "error", "error": {"type": kind or "invalid_request_error", "message": message}}
        return ErrorReply(status, body, {"request-id": "req_fake", **(headers or {})})

    @classmethod
    def server_error(cls, status: int = 529) -> ErrorReply:
        kind = "overloaded_error" if status == 529 else "api_error"
        return cls.error(status, "Overloaded" if status == 529 else "Internal server error", kind=kind)

    @classmethod
    def overflow(cls) -> ErrorReply:
        return cls.error(400, "prompt is too long: 215000 tokens > 200000 maximum")

    def check(self, request: RecordedRequest) -> ErrorReply | None:
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return self.error(401, "invalid x-api-key", kind="authentication_error")
        if "anthropic-version" not in request.headers:
            return self.error(400, "anthropic-version: header is required")
        body = request.json or {}
        if "max_tokens" not in body:
            return self.error(400, "max_tokens: Field required")
        if any(m.get("role") == "system" for m in body.get("messages", [])):
            return self.error(
                400,
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
                'not "system" as an input message role.',
            )
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return self.error(404, f"model: {model}", kind="not_found_error")
        return None

    def success(self, request: Any, reply: Reply) -> dict[str, Any]:
        return {
            "id": f"msg_fake{self._next_id():04d}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", ""),
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": _ANTHROPIC_STOP.get(reply.finish_reason, reply.finish_reason),
            "stop_sequence": None,
            "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
        }
