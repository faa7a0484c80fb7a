"""Counting and the context budget that the prompt builder and every backend rely on."""

from __future__ import annotations

import pytest

from bot.errors import ContextOverflow
from bot.models import context
from bot.models.base import estimate_tokens
from bot.types import ChatMessage
from tests.fakes.fixtures import Connect
from tests.fakes.model_servers import FakeOpenAI


def test_the_estimate_is_chars_over_3_5_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a" * 35) == 10
    assert estimate_tokens("a" * 36) == 11


def test_budget_keeps_room_for_the_reply(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai, context_length=4096)
    assert context.budget(model, reserve_output=1024) == 3072


def test_prompt_tokens_count_every_message_and_its_framing(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai)
    messages = [ChatMessage("system", "a" * 35), ChatMessage("user", "b" * 70)]
    framing = 2 * context.MESSAGE_OVERHEAD + context.REPLY_PRIMING
    assert context.prompt_tokens(model, messages) == 10 + 20 + framing


def test_fits_is_exact_at_the_boundary(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai, context_length=100)
    framing = context.MESSAGE_OVERHEAD + context.REPLY_PRIMING
    exactly = [ChatMessage("user", "x" * int((100 - 20 - framing) * 3.5))]
    one_more = [ChatMessage("user", exactly[0].content + "x")]

    assert context.fits(model, exactly, reserve_output=20)
    assert not context.fits(model, one_more, reserve_output=20)
    assert context.ensure_fits(model, exactly, reserve_output=20) == 80
    with pytest.raises(ContextOverflow, match="takes 81 tokens \\(estimated\\) but only 80 fit"):
        context.ensure_fits(model, one_more, reserve_output=20)


def test_complete_checks_with_the_requested_max_tokens(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai, context_length=1000, max_output_tokens=100)
    prompt = [ChatMessage("user", "y" * 2800)]  # 800 estimated tokens + framing

    assert model.complete(prompt).text == "OK"  # fits with 100 reserved
    with pytest.raises(ContextOverflow, match="minus 300 reserved"):
        model.complete(prompt, max_tokens=300)
    assert len(fake_openai.chat_requests) == 1  # the second prompt was never sent
