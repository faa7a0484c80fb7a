"""Explicit chat templates: Guardrail renders the prompt itself, so what the model saw is known byte for byte.

- ``jinja``: rendering the way transformers does (sandboxed Jinja, ``raise_exception``, ``strftime_now``).
- ``builtin``: ``chatml``, ``llama3``, ``mistral`` as Jinja text.
- ``gguf``: a GGUF's ``tokenizer.chat_template``, BOS/EOS and ``add_bos_token`` (the ``gguf`` package).
- ``template``: ``ChatTemplate`` (render, raw prompt, hashes) and ``resolve`` (a policy entry's template).
- ``check``: ``guardrail template-check``, every runtime's rendering, tokenization and replies against ours.
"""

from bot.templates.builtin import BUILTINS
from bot.templates.jinja import TemplateRefused
from bot.templates.template import ChatTemplate, builtin, from_gguf, resolve, sha256_text

__all__ = ["BUILTINS", "ChatTemplate", "TemplateRefused", "builtin", "from_gguf", "resolve", "sha256_text"]
