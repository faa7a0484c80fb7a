"""The review and patch prompts (``*.txt`` package data) and fitting them into a model's context."""

from bot.prompts.build import MESSAGE_OVERHEAD, PromptBuild, build_messages, load_prompt, prompt_hash

__all__ = ["MESSAGE_OVERHEAD", "PromptBuild", "build_messages", "load_prompt", "prompt_hash"]
