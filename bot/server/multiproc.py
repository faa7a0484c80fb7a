"""The folder prometheus-client's multiprocess mode counts in (``PROMETHEUS_MULTIPROC_DIR``), made by ``guardrail
serve`` / ``guardrail worker`` before prometheus_client is imported (so this module must not import it).

Each folder is ``$TMPDIR/guardrail-metrics-<pid>-<random>``; it is removed when its process stops, and a folder
whose process is gone (``kill -9``, a crash) is removed by the next one that starts on the machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "guardrail-metrics-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(parent: Path) -> list[Path]:
    """Remove the metrics folders under ``parent`` whose process is gone and that belong to this user; returns
    them."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        try:
            mine = folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def claim(needed: bool) -> str | None:
    """When ``needed`` and ``PROMETHEUS_MULTIPROC_DIR`` is not set already: make a fresh folder for this process
    (after removing stale ones) and set the variable to it, which must happen before prometheus_client is first
    imported; returns the folder made (None when none was), for ``release`` at exit."""
    if not needed or os.environ.get(ENV):
        return None
    parent = Path(tempfile.gettempdir())
    remove_stale(parent)
    folder = os.environ[ENV] = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)
    return folder


def release(folder: str | None) -> None:
    """Remove the folder ``claim`` made (nothing for None)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
