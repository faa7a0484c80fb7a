"""Scripted runtimes speaking llama-server's and Ollama's wire formats, for the endpoints no real runtime here has.

A ``ToyModel`` stands in for the weights: a Jinja chat template (what a GGUF carries), a toy tokenizer (each special
marker one token, other text one token per word or punctuation mark) and replies that depend on the prompt the way
an instruction model's do: the answer when the prompt ends with the assistant's turn, a continuation of the user's
turn when the generation prompt is missing. Each known failure mode is a switch:

- ``FakeLlamaServer(fallback_chatml=True)``: llama-server without ``--jinja`` renders ChatML for a template it does
  not know, while ``/props`` still shows the model's template;
- ``FakeLlamaServer(drop_generation_prompt=True)``: a chat template that leaves the generation prompt off;
- ``ToyModel(never_stop=True)``: the end-of-turn token never fires, the reply runs on through the next turn's role
  markers to the length limit (stop strings sent with the request still cut it, as llama.cpp does);
- ``ToyModel(reasoning=True)``: a reasoning block in the answer;
- ``FakeOllamaRuntime``: ``/v1`` ignores ``num_ctx`` and silently keeps the last ``default_ctx`` tokens; the native API
  keeps ``num_ctx`` tokens, also silently, unless ``refuse_overflow``.

Endpoints and shapes: llama.cpp ``tools/server/README.md`` (``/props``, ``/apply-template``, ``/tokenize``,
``/completion``), Ollama ``docs/api.md`` and ``api/types.go`` (``_debug_render_only`` answered with
``_debug_info.rendered_template``).
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import jinja2

from tests.fakes.model_servers import _now_iso

TOY_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INST_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% elif m['role'] == 'assistant' %}{{ m['content'] }}{{ eos_token }}{% else %}<<SYS>>{{ m['content'] }}<</SYS>>"
    "{% endif %}{% endfor %}"
)
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GENERATION_PROMPTS = ("<|im_start|>assistant\n", "[/INST]")


@dataclass
class ToyModel:
    template: str = TOY_TEMPLATE
    bos_token: str = "<s>"
    eos_token: str = "</s>"
    add_bos: bool = True
    specials: tuple[str, ...] = ("<s>", "</s>", "<|im_start|>", "<|im_end|>", "[INST]", "[/INST]")
    never_stop: bool = False
    reasoning: bool = False
    answers: dict[str, str] = field(default_factory=lambda: {"2+2": "4", "Say OK": "OK.", "x = 1": "Yes."})

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        pattern = "(" + "|".join(re.escape(s) for s in self.specials) + ")"
        ids = [self.bos_id] if add_special and self.add_bos else []
        for part in re.split(pattern, text):
            if part in self.specials:
                ids.append(self.specials.index(part) + 1)
            else:
                ids += [1000 + zlib.crc32(piece.encode()) % 30000 for piece in re.findall(r"\w+|[^\w\s]", part)]
        return ids

    @property
    def bos_id(self) -> int:
        return self.specials.index(self.bos_token) + 1

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool, template: str | None = None) -> str:
        environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        return environment.from_string(template or self.template).render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def reply(self, prompt: str, max_tokens: int, stop: list[str]) -> tuple[str, str, int]:
        """(text, "stop" or "length", completion tokens) for ``prompt``."""
        answer = next((a for key, a in self.answers.items() if key in prompt), "Sure.")
        if self.reasoning:
            answer = f"<think>The user asks something short.</think>{answer}"
        if not prompt.endswith(GENERATION_PROMPTS):  # no assistant turn opened: the model writes one itself
            answer = "assistant\n" + answer
        if self.never_stop:
            answer += "<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n" * 20
        for word in stop:  # stop strings cut the text wherever the model would have gone on
            if word and word in answer:
                answer = answer[: answer.index(word)]
        words = answer.split()
        if len(words) > max_tokens:
            return " ".join(words[:max_tokens]), "length", max_tokens
        return answer, "stop", len(words)


Route = Callable[[dict[str, Any]], tuple[int, Any]]


class _FakeRuntime:
    """An HTTP server on 127.0.0.1 answering JSON routes; every request is kept in ``requests``."""

    def __init__(self, model: ToyModel) -> None:
        self.model = model
        self.requests: list[tuple[str, str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def routes(self) -> dict[tuple[str, str], Route]:
        raise NotImplementedError

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                fake.requests.append((method, self.path, body))
                route = fake.routes().get((method, self.path))
                status, payload = route(body) if route else (404, {"error": f"no route {method} {self.path}"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def _openai_completion(model: str, text: str, finish: str, prompt_tokens: int, completion: int, chat: bool) -> Any:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {
        "id": "cmpl-toy",
        "object": "chat.completion" if chat else "text_completion",
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }


class FakeLlamaServer(_FakeRuntime):
    """llama.cpp's ``llama-server`` with a toy model."""

    def __init__(
        self,
        model: ToyModel | None = None,
        *,
        n_ctx: int = 512,
        fallback_chatml: bool = False,
        drop_generation_prompt: bool = False,
        model_path: str = "/models/toy-7b-instruct.Q4_K_M.gguf",
    ) -> None:
        super().__init__(model or ToyModel())
        self.n_ctx = n_ctx
        self.fallback_chatml = fallback_chatml
        self.drop_generation_prompt = drop_generation_prompt
        self.model_path = model_path

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/props"): self.props,
            ("POST", "/apply-template"): self.apply_template,
            ("POST", "/tokenize"): self.tokenize,
            ("POST", "/completion"): self.completion,
            ("POST", "/v1/chat/completions"): self.chat,
            ("POST", "/v1/completions"): self.v1_completion,
        }

    def props(self, _: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "default_generation_settings": {"n_ctx": self.n_ctx, "temperature": 0.8},
            "total_slots": 1,
            "model_path": self.model_path,
            "chat_template": self.model.template,
            "bos_token": self.model.bos_token,
            "eos_token": self.model.eos_token,
            "build_info": "b6500-toy",
        }

    def _render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        template = CHATML if self.fallback_chatml else None
        return self.model.render(messages, add_generation_prompt and not self.drop_generation_prompt, template)

    def apply_template(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"prompt": self._render(body["messages"], body.get("add_generation_prompt", True))}

    def tokenize(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"tokens": self.model.tokenize(body["content"], add_special=body.get("add_special", False))}

    def _generate(self, prompt: str, max_tokens: int, stop: list[str]) -> tuple[int, Any]:
        n = len(self.model.tokenize(prompt))
        if n > self.n_ctx:
            message = "the request exceeds the available context size, try increasing it"
            error = {"code": 400, "message": message, "type": "exceed_context_size_error", "n_prompt_tokens": n}
            return 400, {"error": {**error, "n_ctx": self.n_ctx}}
        text, finish, count = self.model.reply(prompt, max_tokens, stop)
        return 200, (text, finish, n, count)

    def completion(self, body: dict[str, Any]) -> tuple[int, Any]:
        status, result = self._generate(body["prompt"], int(body.get("n_predict", 16)), list(body.get("stop") or []))
        if status != 200:
            return status, result
        text, finish, n, count = result
        stop_type = "limit" if finish == "length" else "eos"
        return 200, {
            "content": text,
            "stop": True,
            "stop_type": stop_type,
            "tokens_evaluated": n,
            "tokens_predicted": count,
            "truncated": False,
        }

    def chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        prompt = self._render(body["messages"], True)
        status, result = self._generate(prompt, int(body.get("max_tokens", 16)), list(body.get("stop") or []))
        return (status, result) if status != 200 else (200, _openai_completion("toy", *result[:2], *result[2:], True))

    def v1_completion(self, body: dict[str, Any]) -> tuple[int, Any]:
        status, result = self._generate(body["prompt"], int(body.get("max_tokens", 16)), list(body.get("stop") or []))
        return (status, result) if status != 200 else (200, _openai_completion("toy", *result[:2], *result[2:], False))


class FakeOllamaRuntime(_FakeRuntime):
    """Ollama with a toy model: native ``/api/*`` honouring ``num_ctx``; ``/v1`` ignoring it."""

    def __init__(
        self, model: ToyModel | None = None, *, default_ctx: int = 2048, refuse_overflow: bool = False
    ) -> None:
        super().__init__(model or ToyModel())
        self.default_ctx = default_ctx
        self.refuse_overflow = refuse_overflow

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/api/version"): lambda _: (200, {"version": "0.12.6"}),
            ("POST", "/api/show"): self.show,
            ("POST", "/api/chat"): self.chat,
            ("POST", "/api/generate"): self.generate,
            ("POST", "/v1/chat/completions"): self.v1_chat,
            ("POST", "/v1/completions"): self.v1_completion,
        }

    def show(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "template": "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}...",
            "details": {"format": "gguf", "family": "toy", "parameter_size": "7B", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "toy", "tokenizer.ggml.add_bos_token": self.model.add_bos},
        }

    def _run(self, prompt: str, options: dict[str, Any], ctx: int) -> tuple[int, Any]:
        ids = self.model.tokenize(prompt)
        if len(ids) > ctx:
            if self.refuse_overflow:
                return 400, {"error": "the input length exceeds the context length"}
            ids = ids[-ctx:]  # Ollama keeps the end of the prompt and says nothing
        stop = list(options.get("stop") or [])
        text, finish, count = self.model.reply(prompt, int(options.get("num_predict", 16)), stop)
        return 200, (text, finish, len(ids), count)

    def chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        prompt = self.model.render(body["messages"], True)
        if body.get("_debug_render_only"):
            return 200, {
                "model": body["model"],
                "created_at": _now_iso(),
                "message": {"role": "assistant", "content": ""},
                "done": False,
                "_debug_info": {"rendered_template": prompt, "image_count": 0},
            }
        options = body.get("options") or {}
        return self._native(self._run(prompt, options, int(options.get("num_ctx", self.default_ctx))), body, "message")

    def generate(self, body: dict[str, Any]) -> tuple[int, Any]:
        options = body.get("options") or {}
        return self._native(
            self._run(body["prompt"], options, int(options.get("num_ctx", self.default_ctx))), body, "response"
        )

    def _native(self, outcome: tuple[int, Any], body: dict[str, Any], key: str) -> tuple[int, Any]:
        status, result = outcome
        if status != 200:
            return status, result
        text, finish, n, count = result
        answer = {"response": text} if key == "response" else {"message": {"role": "assistant", "content": text}}
        return 200, {
            "model": body["model"],
            "created_at": _now_iso(),
            **answer,
            "done": True,
            "done_reason": finish,
            "prompt_eval_count": n,
            "eval_count": count,
        }

    def v1_chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        prompt = self.model.render(body["messages"], True)
        _, (text, finish, n, count) = self._run(prompt, {"num_predict": body.get("max_tokens", 16)}, self.default_ctx)
        return 200, _openai_completion(body["model"], text, finish, n, count, True)

    def v1_completion(self, body: dict[str, Any]) -> tuple[int, Any]:
        options = {"num_predict": body.get("max_tokens", 16), "stop": body.get("stop")}
        _, (text, finish, n, count) = self._run(body["prompt"], options, self.default_ctx)
        return 200, _openai_completion(body["model"], text, finish, n, count, False)
