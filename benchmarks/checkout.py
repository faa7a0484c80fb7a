"""The App worker's checkout of a pull request: a fresh full fetch per job (what every job did before the mirror)
against a checkout from the machine's shared mirror (``bot.server.mirror``), side by side on a generated repository
with a sizeable history, served over smart HTTP on loopback (``git http-backend``, token required, as GitHub).

Each round pushes one new commit to the pull request (``refs/pull/1/head``), then times both ways of getting a
checkout of the new head, in alternating order: ``fresh`` = ``git init`` + ``git fetch`` of base and head
(``bot.github.action_git``), ``mirrored`` = ``bot.server.mirror.prepare_checkout`` on a warm mirror. The first,
cold mirror fill is reported on its own. Printed: median seconds, bytes served and bytes written per job, and the
ratio fresh/mirrored.

    python -m benchmarks.checkout                     # --commits 3000 --kb 20 --rounds 5, --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.github import action_git
from bot.server.mirror import prepare_checkout
from bot.types import PullInfo
from tests.fakes.git_http import GitHttpServer

REPO = "bench/history"
TOKEN = "ghs_BenchmarkToken0000000000000000000001"
IDENTITY = "Bench <bench@example.com>"


@dataclass(frozen=True)
class Timing:
    way: str
    seconds: float
    served_bytes: int
    written_bytes: int


def generate(bare: Path, commits: int, kb: int, seed: int) -> tuple[str, str]:
    """A bare repository with ``commits`` commits on ``main`` (each rewriting one of 20 files with ``kb`` KiB of
    incompressible bytes, so git can neither compress nor delta them away) and a PR head on ``refs/pull/1/head``.
    Returns (base, head). Written with ``git fast-import``: seconds, not minutes."""
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    rng = random.Random(seed)
    stream = []
    for n in range(commits):
        data = rng.randbytes(kb * 1024)
        stream.append(b"commit refs/heads/main\n")
        stream.append(
            f"mark :{n + 1}\ncommitter {IDENTITY} {1_700_000_000 + n * 60} +0000\ndata 9\nhistory\n\n".encode()
        )
        if n:
            stream.append(f"from :{n}\n".encode())
        stream.append(f"M 100644 inline blob{n % 20}.bin\ndata {len(data)}\n".encode() + data + b"\n\n")
    done = subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(stream), check=False)
    if done.returncode:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "repack", "-a", "-d", "-q"], cwd=bare, check=True)
    base = _git(bare, "rev-parse", "main")
    return base, push_pr(bare, base, 0)


def push_pr(bare: Path, base: str, round_number: int) -> str:
    """One new commit on the pull request (a small source change on the previous head, or on the base)."""
    parent = _git(bare, "rev-parse", "--verify", "--quiet", "refs/pull/1/head", check=False) or base
    blob = _git(bare, "hash-object", "-w", "--stdin", input=f"def change():\n    return {round_number}\n")
    entries = [e for e in _git(bare, "ls-tree", parent).splitlines() if not e.endswith("\tchange.py")]
    tree = _git(bare, "mktree", input="\n".join([*entries, f"100644 blob {blob}\tchange.py"]) + "\n")
    env = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "Bench"}
    env |= {
        "GIT_COMMITTER_EMAIL": "b@e",
        "GIT_AUTHOR_DATE": "1700000000 +0000",
        "GIT_COMMITTER_DATE": "1700000000 +0000",
    }
    head = _git(bare, "commit-tree", tree, "-p", parent, "-m", f"pr {round_number}", env=env)
    _git(bare, "update-ref", "refs/pull/1/head", head)
    return head


def _git(
    repo: Path, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, input=input, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip() if done.returncode == 0 else ""


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _timed(way: str, server: GitHttpServer, make: Callable[[Path], object], work: Path) -> Timing:
    checkout = Path(tempfile.mkdtemp(prefix=f"{way}-", dir=work)) / "checkout"
    server.reset()
    started = time.perf_counter()
    make(checkout)
    seconds = time.perf_counter() - started
    served = sum(s.body_bytes for s in server.served)
    written = _size(checkout)
    shutil.rmtree(checkout.parent)
    return Timing(way, seconds, served, written)


def run(commits: int, kb: int, rounds: int, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="guardrail-bench-checkout-") as tmp:
        work = Path(tmp)
        bare = work / "remotes" / f"{REPO}.git"
        bare.parent.mkdir(parents=True)
        started = time.perf_counter()
        base, head = generate(bare, commits, kb, seed)
        generated = time.perf_counter() - started
        mirrors = work / "mirrors"
        with GitHttpServer(work / "remotes", token=TOKEN) as server:
            url = server.url(REPO)

            def pull() -> PullInfo:
                return PullInfo(REPO, 1, "main", base, "feature", _git(bare, "rev-parse", "refs/pull/1/head"), REPO)

            def fresh(checkout: Path) -> None:
                action_git.init_checkout(checkout, url)
                action_git.ensure_commits(checkout, pull(), TOKEN)

            def mirrored(checkout: Path) -> None:
                if prepare_checkout(checkout, url, pull(), TOKEN, mirrors) != "mirror":
                    raise SystemExit("the mirror did not serve the checkout")

            cold = _timed("cold mirror", server, mirrored, work)
            timings: list[Timing] = []
            for n in range(1, rounds + 1):
                head = push_pr(bare, base, n)
                ways = [("fresh", fresh), ("mirrored", mirrored)]
                for way, make in ways if n % 2 else ways[::-1]:
                    timings.append(_timed(way, server, make, work))
        summary: dict[str, object] = {
            "commits": commits,
            "kb_per_commit": kb,
            "remote_pack_bytes": _size(bare / "objects"),
            "generated_seconds": round(generated, 1),
            "mirror_bytes": _size(mirrors),
            "cold_mirror": asdict(cold),
            "head": head,
        }
        for way in ("fresh", "mirrored"):
            mine = [t for t in timings if t.way == way]
            summary[way] = {
                "median_seconds": statistics.median(t.seconds for t in mine),
                "served_bytes": statistics.median(t.served_bytes for t in mine),
                "written_bytes": statistics.median(t.written_bytes for t in mine),
                "seconds": [round(t.seconds, 3) for t in mine],
            }
        fresh_s = summary["fresh"]["median_seconds"]  # type: ignore[index]
        mirrored_s = summary["mirrored"]["median_seconds"]  # type: ignore[index]
        summary["ratio_fresh_over_mirrored"] = fresh_s / mirrored_s
        return summary


def render(summary: dict[str, object]) -> str:
    fresh, mirrored = summary["fresh"], summary["mirrored"]
    cold = summary["cold_mirror"]
    assert isinstance(fresh, dict) and isinstance(mirrored, dict) and isinstance(cold, dict)
    mib = 1024 * 1024
    lines = [
        f"repository: {summary['commits']} commits, {summary['remote_pack_bytes'] / mib:.1f} MiB of objects "
        f"(generated in {summary['generated_seconds']} s); mirror on disk {summary['mirror_bytes'] / mib:.1f} MiB",
        f"{'way':<10} {'median s':>9} {'served MiB':>11} {'written MiB':>12}",
    ]
    for way, row in (("fresh", fresh), ("mirrored", mirrored)):
        served, written = row["served_bytes"] / mib, row["written_bytes"] / mib
        lines.append(f"{way:<10} {row['median_seconds']:>9.3f} {served:>11.3f} {written:>12.3f}")
    lines.append(
        f"cold mirror (first job on this machine): {cold['seconds']:.3f} s, {cold['served_bytes'] / mib:.1f} MiB"
    )
    lines.append(
        f"fresh/mirrored: {summary['ratio_fresh_over_mirrored']:.1f}x  (per-round s: fresh {fresh['seconds']}, "
        f"mirrored {mirrored['seconds']})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=3000, help="commits of history (default 3000)")
    parser.add_argument("--kb", type=int, default=20, help="KiB of new incompressible bytes per commit (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="pushes, each checked out both ways (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.commits < 1 or args.kb < 1 or args.rounds < 1:
        print("benchmarks.checkout: --commits, --kb and --rounds must be at least 1", file=sys.stderr)
        return 2
    summary = run(args.commits, args.kb, args.rounds, args.seed)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
