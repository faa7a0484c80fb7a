"""The built-in chat templates, as Jinja text rendered like any other template (``bot.templates.jinja``).

- ``chatml`` (SmolLM2, Qwen2.5): ``<|im_start|>role\\ncontent<|im_end|>\\n`` per message, then
  ``<|im_start|>assistant\\n``. Unlike SmolLM2's own template, no default system prompt is added; no BOS.
- ``llama3`` (Llama 3.x Instruct): ``<|begin_of_text|>``, then ``<|start_header_id|>role<|end_header_id|>\\n\\n`` +
  stripped content + ``<|eot_id|>`` per message, then the assistant header (Meta's template without the date lines).
- ``mistral`` (Mistral 7B Instruct v0.1/v0.2): ``<s>[INST] user [/INST]assistant</s>``; that template has no system
  role, so a system message is folded into the first user turn (separated by a blank line); roles must alternate
  user/assistant after it, as Mistral's own template demands (``raise_exception`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Builtin:
    source: str
    bos_token: str
    eos_token: str
    add_bos: bool  # the model's tokenizer prepends BOS to a raw prompt
    stop: tuple[str, ...]


CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

LLAMA3 = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{{ message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

MISTRAL = (
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}"
    "{{ bos_token }}"
    "{% for message in turns %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{% if loop.first and system %}{{ '[INST] ' + system + '\\n\\n' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if not turns and system %}{{ '[INST] ' + system + ' [/INST]' }}{% endif %}"
)

BUILTINS: dict[str, Builtin] = {
    "chatml": Builtin(CHATML, bos_token="", eos_token="<|im_end|>", add_bos=False, stop=("<|im_end|>", "<|im_start|>")),
    "llama3": Builtin(
        LLAMA3,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        add_bos=True,
        stop=("<|eot_id|>", "<|end_of_text|>"),
    ),
    "mistral": Builtin(MISTRAL, bos_token="<s>", eos_token="</s>", add_bos=True, stop=("</s>", "[INST]")),
}
