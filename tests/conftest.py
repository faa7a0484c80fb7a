"""Shared fixtures. Any connection outside loopback fails loudly: GitHub and cloud models are always fakes here."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["tests.fakes.github_fixtures", "tests.fakes.fixtures"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed in tests")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _git_identity() -> Iterator[None]:
    """Tests make real commits; a fresh machine may have no git identity configured."""
    values = {
        "GIT_AUTHOR_NAME": "Guardrail Tests",
        "GIT_AUTHOR_EMAIL": "tests@guardrail.invalid",
        "GIT_COMMITTER_NAME": "Guardrail Tests",
        "GIT_COMMITTER_EMAIL": "tests@guardrail.invalid",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    yield
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield
