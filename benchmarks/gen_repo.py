"""Generate a realistic repository for the gate benchmark, deterministically from a seed.

The default is a package ``ledger`` of 300 modules in six subpackages (dataclasses, small classes, pure functions,
file codecs, some cross-imports), about a thousand pytest tests in 100 files, ruff settings in ``pyproject.toml``,
and a git history of two commits: ``base`` and ``head`` (the pull request: a new function and its tests in a few
modules). ``patch`` is what a model might suggest on that head: a harmless refactor of one of the PR's modules,
as a unified diff that ``git apply`` takes. Commit dates and authors are fixed, so a seed always gives the same shas.

    python -m benchmarks.gen_repo /tmp/ledger --modules 300 --seed 1
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.templates import Kind, Module, module_source, tests_for

SUBPACKAGES = ("accounts", "billing", "catalog", "inventory", "reports", "shipping")
NOUNS = (
    "account",
    "balance",
    "batch",
    "bin",
    "budget",
    "carrier",
    "charge",
    "coupon",
    "credit",
    "customer",
    "depot",
    "discount",
    "fee",
    "forecast",
    "invoice",
    "item",
    "ledger",
    "lot",
    "margin",
    "metric",
    "order",
    "pallet",
    "parcel",
    "payment",
    "period",
    "price",
    "quote",
    "rate",
    "refund",
    "region",
    "route",
    "shelf",
    "sku",
    "stock",
    "supplier",
    "tariff",
    "tax",
    "vendor",
    "voucher",
    "zone",
)
SUFFIXES = ("rules", "rates", "store", "parser", "report", "policy", "index", "queue", "model", "limits")
KINDS: tuple[Kind, ...] = ("calc", "record", "registry", "codec")
KIND_WEIGHTS = (40, 25, 20, 15)

_PYPROJECT = """\
[project]
name = "ledger"
version = "1.4.0"
description = "Billing, inventory and shipping ledgers (a generated benchmark repository)."
requires-python = ">=3.11"

[tool.ruff]
line-length = 120
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "I", "B", "UP"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--strict-markers"
"""

_CONFTEST = '''\
"""Shared fixtures for the ledger tests."""

import pytest


@pytest.fixture
def sample_amounts() -> dict[str, int]:
    return {"alpha": 3, "beta": 11, "gamma": 0}
'''

_GITIGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n.ruff_cache/\n"


@dataclass(frozen=True)
class RepoSpec:
    """How big the generated repository is; ``seed`` decides names, kinds and constants."""

    modules: int = 300
    modules_per_test_file: int = 3
    pr_modules: int = 3
    seed: int = 1


@dataclass(frozen=True)
class GeneratedRepo:
    """A generated repository: its two commits, the patch to measure and what pytest should collect at head."""

    path: Path
    base: str
    head: str
    patch: str
    patched_path: str
    modules: int
    test_files: int
    tests: int


def plan(spec: RepoSpec) -> list[Module]:
    """Choose every module's subpackage, name, kind and constants (deterministic for a seed)."""
    names = [f"{noun}_{suffix}" for noun in NOUNS for suffix in SUFFIXES]
    if spec.modules > len(names):
        raise ValueError(f"--modules {spec.modules}: at most {len(names)} modules can be named")
    rng = random.Random(spec.seed)
    rng.shuffle(names)
    modules: list[Module] = []
    calcs: list[Module] = []
    for index, name in enumerate(names[: spec.modules]):
        subpackage = SUBPACKAGES[index * len(SUBPACKAGES) // spec.modules]
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        low = rng.randint(10, 400)
        blend_with = rng.choice(calcs) if kind == "calc" and calcs and rng.random() < 0.3 else None
        factor = rng.randint(2, 9) if kind == "calc" else rng.randint(50, 900)
        module = Module(
            subpackage=subpackage,
            name=name,
            kind=kind,
            a=factor,
            b=rng.randint(1, 40),
            c=low,
            d=low + rng.randint(1, 500),
            blend_with=blend_with,
        )
        modules.append(module)
        if kind == "calc":
            calcs.append(module)
    return modules


def pr_modules(modules: list[Module], spec: RepoSpec) -> list[Module]:
    """The modules the head commit (the pull request) changes: the last few calc modules."""
    return [module for module in modules if module.kind == "calc"][-spec.pr_modules :]


def write_tree(root: Path, modules: list[Module], spec: RepoSpec, *, pr: bool) -> tuple[int, int]:
    """Write the package, its tests and the project files; return (test files, test cases)."""
    changed = {module.name for module in pr_modules(modules, spec)} if pr else set()
    (root / "pyproject.toml").write_text(_PYPROJECT, encoding="utf-8")
    (root / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    (root / "README.md").write_text("# ledger\n\nA generated repository for Guardrail's gate benchmark.\n")
    _write(root / "ledger" / "__init__.py", '"""Billing, inventory and shipping ledgers."""\n\n__version__ = "1.4.0"\n')
    _write(root / "tests" / "__init__.py", "")
    _write(root / "tests" / "conftest.py", _CONFTEST)
    for subpackage in sorted({module.subpackage for module in modules}):
        _write(root / "ledger" / subpackage / "__init__.py", f'"""The {subpackage} ledgers."""\n')
        _write(root / "tests" / subpackage / "__init__.py", "")
    for module in modules:
        source = module_source(module, with_mean=module.name in changed)
        _write(root / "ledger" / module.subpackage / f"{module.name}.py", source)
    step = spec.modules_per_test_file
    chunks = [modules[start : start + step] for start in range(0, len(modules), step)]
    total = 0
    for chunk in chunks:
        text, count = _test_file(chunk, changed)
        _write(root / "tests" / chunk[0].subpackage / f"test_{chunk[0].name}.py", text)
        total += count
    return len(chunks), total


def _test_file(chunk: list[Module], changed: set[str]) -> tuple[str, int]:
    bodies: list[str] = []
    count = 0
    for module in chunk:
        body, cases = tests_for(module, with_mean=module.name in changed)
        bodies.append(body)
        count += cases
    by_subpackage: dict[str, list[str]] = {}
    for module in chunk:
        by_subpackage.setdefault(module.subpackage, []).append(module.name)
    stdlib = "from pathlib import Path\n\n" if any(module.kind == "codec" for module in chunk) else ""
    first_party = "".join(
        f"from ledger.{subpackage} import {', '.join(sorted(names))}\n"
        for subpackage, names in sorted(by_subpackage.items())
    )
    names = ", ".join(module.name for module in chunk)
    header = f'"""Tests of {names}."""\n\n{stdlib}import pytest\n\n{first_party}\n\n'
    return header + "\n\n".join(bodies), count


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ledger Dev",
        "GIT_AUTHOR_EMAIL": "dev@ledger.invalid",
        "GIT_COMMITTER_NAME": "Ledger Dev",
        "GIT_COMMITTER_EMAIL": "dev@ledger.invalid",
        "GIT_AUTHOR_DATE": "2026-01-05T10:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-05T10:00:00Z",
    }
    command = ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root} ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def generate(dest: Path, spec: RepoSpec | None = None) -> GeneratedRepo:
    """Create the repository in ``dest`` (which must not exist or be empty) and return its commits and patch."""
    spec = spec or RepoSpec()
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: give the generator a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    modules = plan(spec)
    _git(dest, "init", "-q", "-b", "main")
    write_tree(dest, modules, spec, pr=False)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "ledger: billing, inventory and shipping ledgers")
    base = _git(dest, "rev-parse", "HEAD").strip()
    test_files, tests = write_tree(dest, modules, spec, pr=True)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "Add mean() to the pricing calculators")
    head = _git(dest, "rev-parse", "HEAD").strip()
    target = pr_modules(modules, spec)[0]
    path = dest / "ledger" / target.subpackage / f"{target.name}.py"
    original = path.read_text(encoding="utf-8")
    path.write_text(module_source(target, with_mean=True, refactored=True), encoding="utf-8")
    patch = _git(dest, "diff", "--no-color", "--no-ext-diff")
    path.write_text(original, encoding="utf-8")
    return GeneratedRepo(
        path=dest,
        base=base,
        head=head,
        patch=patch,
        patched_path=str(path.relative_to(dest)),
        modules=len(modules),
        test_files=test_files,
        tests=tests,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gen_repo", description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="a new directory for the repository")
    parser.add_argument("--modules", type=int, default=RepoSpec.modules, help="number of modules (default 300)")
    parser.add_argument("--seed", type=int, default=RepoSpec.seed)
    args = parser.parse_args(argv)
    repo = generate(args.dest, RepoSpec(modules=args.modules, seed=args.seed))
    print(f"{repo.path}: {repo.modules} modules, {repo.test_files} test files, {repo.tests} tests")
    print(f"base {repo.base}\nhead {repo.head}\npatch touches {repo.patched_path} ({len(repo.patch)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
