"""Source templates for the generated benchmark repository: four kinds of module, each with its tests.

Every template is a ``string.Template`` (``$name`` placeholders), because the generated code is full of braces.
Each ``Module`` knows its own constants, so the expected values written into its tests are computed here, in plain
Python, and the generated suite passes by construction (the smoke test in ``tests/test_benchmarks.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Literal

Kind = Literal["calc", "record", "registry", "codec"]


@dataclass(frozen=True)
class Module:
    """One generated module: where it lives, what kind it is and the constants its code and tests use."""

    subpackage: str
    name: str  # e.g. "invoice_rates"
    kind: Kind
    a: int  # factor / limit / capacity
    b: int  # offset / default weight
    c: int  # lower threshold
    d: int  # upper threshold
    blend_with: Module | None = None  # an earlier calc module this one imports

    @property
    def dotted(self) -> str:
        return f"ledger.{self.subpackage}.{self.name}"

    @property
    def noun(self) -> str:
        return self.name.split("_")[0]

    @property
    def cls(self) -> str:
        return self.noun.capitalize()

    def scale(self, value: int) -> int:
        return value * self.a + self.b


_CALC = Template('''\
"""$title: arithmetic on $noun amounts, in integer cents."""

from __future__ import annotations
$imports
FACTOR = $a
OFFSET = $b
THRESHOLDS = ($c, $d)


def scale(values: list[int]) -> list[int]:
    """Apply the factor and the offset to every amount."""
    return [value * FACTOR + OFFSET for value in values]


def total(values: list[int]) -> int:
    $total_doc
    $total_body


def band(value: int) -> str:
    """Which band an amount falls in: low, medium or high."""
    low, high = THRESHOLDS
    if value < low:
        return "low"
    if value < high:
        return "medium"
    return "high"


def clamp(value: int, lowest: int = 0, highest: int = $d) -> int:
    """Keep an amount inside [lowest, highest]."""
    return max(lowest, min(highest, value))
$extra''')

_CALC_LOOP = '''"""The sum of the scaled amounts."""
    result = 0
    for value in scale(values):
        result += value
    return result'''

_CALC_SUM = '''"""The sum of the scaled amounts (an empty list sums to 0)."""
    return sum(scale(values))'''

_BLEND = Template('''

def blend(value: int) -> int:
    """Combine with the $other scale, as the quarterly report does."""
    return $other.scale([value])[0] + scale([value])[0]
''')

_MEAN = '''

def mean(values: list[int]) -> float:
    """The mean scaled amount; 0.0 for no amounts."""
    if not values:
        return 0.0
    return total(values) / len(values)
'''

_RECORD = Template('''\
"""$title: a frozen record and the rules that apply to it."""

from __future__ import annotations

from dataclasses import dataclass, field

LIMIT = $a
DEFAULT_WEIGHT = $b


@dataclass(frozen=True)
class $cls:
    """One $noun entry as the ledger stores it."""

    name: str
    quantity: int
    weight: int = DEFAULT_WEIGHT
    tags: tuple[str, ...] = field(default_factory=tuple)

    def total(self) -> int:
        """The quantity times the weight."""
        return self.quantity * self.weight

    def is_heavy(self) -> bool:
        return self.total() > LIMIT

    def with_tag(self, tag: str) -> $cls:
        if tag in self.tags:
            return self
        return $cls(self.name, self.quantity, self.weight, (*self.tags, tag))

    @classmethod
    def parse(cls, text: str) -> $cls:
        """Read ``name:quantity[:weight]``; raise ValueError naming the bad field."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"expected name:quantity[:weight], got {text!r}")
        name, quantity = parts[0].strip(), int(parts[1])
        weight = int(parts[2]) if len(parts) == 3 else DEFAULT_WEIGHT
        if quantity < 0:
            raise ValueError(f"quantity must be >= 0, got {quantity}")
        return cls(name, quantity, weight)


def heaviest(items: list[$cls]) -> $cls | None:
    """The item with the largest total, or None for an empty list."""
    if not items:
        return None
    return max(items, key=lambda item: item.total())
''')

_REGISTRY = Template('''\
"""$title: an in-memory registry of amounts with a capacity."""

from __future__ import annotations

from collections.abc import Iterator

CAPACITY = $a


class ${cls}Registry:
    """Amounts by key, refusing new keys past the capacity."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._amounts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._amounts)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._amounts))

    def add(self, key: str, amount: int) -> int:
        """Add to a key's amount and return the new amount."""
        if key not in self._amounts and len(self._amounts) >= self.capacity:
            raise OverflowError(f"{key!r}: registry full ({self.capacity} keys)")
        self._amounts[key] = self._amounts.get(key, 0) + amount
        return self._amounts[key]

    def remove(self, key: str) -> int:
        try:
            return self._amounts.pop(key)
        except KeyError:
            raise KeyError(f"{key!r} is not registered") from None

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self._amounts.items()))
''')

_CODEC = Template('''\
"""$title: reading and writing ``key = amount`` files."""

from __future__ import annotations

from pathlib import Path

COMMENT = "#"


def parse(text: str) -> dict[str, int]:
    """Parse ``key = amount`` lines; blank lines and comments are skipped."""
    result: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(COMMENT, 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"line {number}: expected key = amount, got {raw!r}")
        result[key.strip()] = int(value)
    return result


def render(amounts: dict[str, int]) -> str:
    return "".join(f"{key} = {amount}\\n" for key, amount in sorted(amounts.items()))


def load(path: Path) -> dict[str, int]:
    return parse(path.read_text(encoding="utf-8"))


def save(path: Path, amounts: dict[str, int]) -> None:
    path.write_text(render(amounts), encoding="utf-8")
''')


def module_source(module: Module, *, with_mean: bool = False, refactored: bool = False) -> str:
    """The module's code; ``with_mean`` is the head commit's change, ``refactored`` the benchmark's patch."""
    title = module.name.replace("_", " ").capitalize()
    if module.kind == "calc":
        other = module.blend_with
        imports = f"\nfrom ledger.{other.subpackage} import {other.name}\n" if other else ""
        extra = _BLEND.substitute(other=other.name) if other else ""
        extra += _MEAN if with_mean else ""
        total_doc, total_body = (_CALC_SUM if refactored else _CALC_LOOP).split("\n", 1)
        return _CALC.substitute(
            title=title,
            noun=module.noun,
            imports=imports,
            a=module.a,
            b=module.b,
            c=module.c,
            d=module.d,
            total_doc=total_doc,
            total_body=total_body.lstrip(),
            extra=extra,
        )
    template = {"record": _RECORD, "registry": _REGISTRY, "codec": _CODEC}[module.kind]
    return template.substitute(title=title, noun=module.noun, cls=module.cls, a=module.a, b=module.b)


def tests_for(module: Module, *, with_mean: bool = False) -> tuple[str, int]:
    """The tests of one module (functions, without imports) and how many test cases pytest will collect."""
    m, n = module.name, module.name
    if module.kind == "calc":
        c, d = module.c, module.d
        lines = [
            f"def test_{n}_scale() -> None:",
            f"    assert {m}.scale([3, 11]) == [{module.scale(3)}, {module.scale(11)}]",
            "",
            "",
            f'@pytest.mark.parametrize(("value", "expected"), [({c - 1}, "low"), ({c}, "medium"), ({d}, "high")])',
            f"def test_{n}_band(value: int, expected: str) -> None:",
            f"    assert {m}.band(value) == expected",
        ]
        count = 4
        if module.blend_with is not None:
            other = module.blend_with
            lines += ["", "", f"def test_{n}_blend() -> None:"]
            lines.append(f"    assert {m}.blend(7) == {other.scale(7) + module.scale(7)}")
            count += 1
        if with_mean:
            lines += ["", "", f"def test_{n}_mean() -> None:"]
            lines.append(f"    assert {m}.mean([2, 5]) == pytest.approx({(module.scale(2) + module.scale(5)) / 2})")
            lines += ["", "", f"def test_{n}_total() -> None:"]
            lines.append(f"    assert {m}.total([2, 5]) == {module.scale(2) + module.scale(5)}")
            count += 2
        return "\n".join(lines) + "\n", count
    if module.kind == "record":
        limit, weight = module.a, module.b
        low, high = limit // weight, limit // weight + 1
        cls = f"{m}.{module.cls}"
        text = f"""def test_{n}_total() -> None:
    assert {cls}("a", 4, {weight}).total() == {4 * weight}


@pytest.mark.parametrize(("quantity", "heavy"), [({low}, False), ({high}, True)])
def test_{n}_is_heavy(quantity: int, heavy: bool) -> None:
    assert {cls}("a", quantity, {weight}).is_heavy() is heavy


def test_{n}_parse_rejects_a_negative_quantity() -> None:
    with pytest.raises(ValueError, match="quantity"):
        {cls}.parse("a:-1")
"""
        return text, 4
    if module.kind == "registry":
        cls = f"{m}.{module.cls}Registry"
        text = f"""def test_{n}_add_accumulates() -> None:
    registry = {cls}()
    registry.add("x", 2)
    assert registry.add("x", 3) == 5


def test_{n}_refuses_past_capacity() -> None:
    registry = {cls}(capacity=1)
    registry.add("x", 1)
    with pytest.raises(OverflowError, match="full"):
        registry.add("y", 1)


def test_{n}_snapshot_is_sorted() -> None:
    registry = {cls}()
    for key in ("b", "a", "c"):
        registry.add(key, 1)
    assert list(registry.snapshot()) == ["a", "b", "c"]
"""
        return text, 3
    text = f'''def test_{n}_round_trip(tmp_path: Path, sample_amounts: dict[str, int]) -> None:
    path = tmp_path / "{n}.txt"
    {m}.save(path, sample_amounts)
    assert {m}.load(path) == sample_amounts


def test_{n}_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        {m}.parse("# header\\nno equals sign\\n")
'''
    return text, 2
