"""Every problem of a YAML policy file at once, each with the file, the line and the key path.

``bot.config.validate`` stops at the first file that fails and joins its messages; ``guardrail policy check`` must
list every problem of both files, in line order, with the checks that pydantic cannot make (names that refer to
other keys, keys given twice). ``text_problems`` does that for any pydantic model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot import yaml_text
from bot.config import line_for
from bot.errors import ConfigError

Lines = dict[tuple[str | int, ...], int]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    where: str  # file[:line]
    key: str  # dotted key path; "" for the top level
    message: str
    line: int = 0  # for sorting; 0 when unknown

    def __str__(self) -> str:
        return f"{self.where}: key {self.key!r}: {self.message}" if self.key else f"{self.where}: {self.message}"


def raise_problems(problems: list[Problem], error: type[ConfigError] = ConfigError) -> None:
    """Raise one error carrying every problem (``where``/``key`` set when there is just one)."""
    if len(problems) == 1:
        only = problems[0]
        raise error(only.message, where=only.where, key=only.key or None)
    if problems:
        raise error(f"{len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems))


def problem_at(where: str, loc: tuple[str | int, ...], lines: Lines, message: str) -> Problem:
    line = line_for(loc, lines)
    return Problem(f"{where}:{line}" if line else where, ".".join(str(p) for p in loc), message, line or 0)


def validation_problems(exc: ValidationError, where: str, lines: Lines) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "[key]")
        if err["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling against docs/policy.md"
        elif not loc and err["type"] in ("model_type", "dict_type"):
            message = "the file must be a YAML mapping of keys (like `models:`), not a single value or a list"
        else:
            message = err["msg"]
        problems.append(problem_at(where, loc, lines, message))
    return problems


def text_problems(
    text: str, model: type[M], where: str, extra: Callable[[object, Lines], list[Problem]]
) -> tuple[M | None, Lines, list[Problem]]:
    """Every problem of a YAML text, in line order: syntax, duplicate keys, the model's checks and ``extra``'s (which
    sees the raw data, so its problems come along with the structural ones). The model only when there is none."""
    try:
        data, lines, found = yaml_text.parse_yaml(text, where, reject_duplicates=False)
    except ConfigError as exc:
        return None, {}, [Problem(exc.where or where, "", str(exc).removeprefix(f"{exc.where}: "))]
    problems = [Problem(f"{where}:{d.line}", d.key, "key given twice; keep one", d.line) for d in found]
    validated: M | None = None
    try:
        validated = model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems += validation_problems(exc, where, lines)
    problems += extra(data, lines)
    problems.sort(key=lambda p: p.line)
    return (None if problems else validated), lines, problems
