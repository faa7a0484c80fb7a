"""The checkout benchmark's own parts: a tiny run compares the two ways on the same pushes and renders the ratio.

No timing is asserted here: speed is measured by ``python -m benchmarks.checkout`` (see docs/server.md).
"""

from __future__ import annotations

import pytest

from benchmarks.checkout import main, run


def test_a_tiny_run_fetches_the_history_fresh_and_only_the_push_mirrored() -> None:
    summary = run(commits=30, kb=16, rounds=2, seed=3)
    fresh, mirrored, cold = summary["fresh"], summary["mirrored"], summary["cold_mirror"]
    assert isinstance(fresh, dict) and isinstance(mirrored, dict) and isinstance(cold, dict)
    assert fresh["served_bytes"] > 30 * 16 * 1024 > 100 * mirrored["served_bytes"]  # the history, against the push
    assert cold["served_bytes"] > 30 * 16 * 1024  # the first job on a machine fills the mirror once
    assert mirrored["written_bytes"] < fresh["written_bytes"] / 3
    assert len(fresh["seconds"]) == len(mirrored["seconds"]) == 2


def test_the_command_prints_the_ratio_and_refuses_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--commits", "5", "--kb", "1", "--rounds", "1"]) == 0
    assert "fresh/mirrored: " in capsys.readouterr().out
    assert main(["--rounds", "0"]) == 2
    assert "--rounds" in capsys.readouterr().err
