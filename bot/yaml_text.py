"""Reading a YAML config text safely: one parse, duplicate keys found, alias expansion bounded, lines kept.

Every config Guardrail reads (the admin policy, ``.github/guardrail.yml``, ``guardrail gate --config``, the Action's
inline ``admin-policy``) goes through ``parse_yaml``. PyYAML's safe loader keeps the last of two equal keys silently
(a second ``gates:`` could switch ruff off unseen), so a key given twice is an error naming the file, the line and
the key path. Aliases (``*name``) share one node, but everything that walks the data afterwards (validation, the
line map) visits each use: a few lines of nested aliases ("billion laughs", CVE-2003-1564 for XML) would make that
walk exponential, so a document whose aliases expand to more than ``MAX_EXPANDED_NODES`` nodes is refused. A text
over ``MAX_TEXT_BYTES`` is refused before parsing, and ``read_config_file`` never reads more than that (a path such as
``/dev/zero`` or a log file given by mistake ends in one line, not a hang or a full memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

KeyPath = tuple[str | int, ...]
Lines = dict[KeyPath, int]
MAX_EXPANDED_NODES = 100_000  # a large real config has a few hundred nodes
MAX_TEXT_BYTES = 1_000_000  # a large real config is a few kilobytes


@dataclass(frozen=True)
class Duplicate:
    """A mapping key given a second time: its dotted key path and the (1-based) line of the second one."""

    key: str
    line: int


def _compose(text: str, where: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError as exc:
        loader.dispose()
        raise _syntax_error(exc, where) from exc


def _syntax_error(exc: yaml.YAMLError, where: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or exc
    return ConfigError(f"not valid YAML ({problem}); fix the syntax", where=where + line)


def expanded_size(node: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes a full walk of ``node`` visits (aliases counted at every use), stopping early past ``limit``.

    Linear in the size of the node graph: each distinct node's size is computed once."""
    sizes: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        known = sizes.get(id(current))
        if known is not None:
            return known
        sizes[id(current)] = limit + 1  # a node that contains itself (a recursive alias) never ends
        total = 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                total += size(key_node) + size(value_node)
                if total > limit:
                    break
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
                if total > limit:
                    break
        sizes[id(current)] = min(total, limit + 1)
        return sizes[id(current)]

    return size(node)


def duplicates(node: yaml.Node | None) -> list[Duplicate]:
    """Every key given twice in one mapping, at any depth, in document order."""
    return list(_duplicates(node, ())) if node is not None else []


def _duplicates(node: yaml.Node, path: KeyPath) -> Iterator[Duplicate]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                yield Duplicate(".".join(str(p) for p in (*path, key)), key_node.start_mark.line + 1)
            seen.add(key)
            yield from _duplicates(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path, index))


def _line_map(node: yaml.Node, path: KeyPath, out: Lines) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _line_map(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)


def _too_large(what: str, where: str) -> ConfigError:
    return ConfigError(
        f"larger than {MAX_TEXT_BYTES:,} bytes, far more than any {what}; check that the path names the right file",
        where=where,
    )


def read_config_file(path: Path, where: str, what: str) -> str:
    """The UTF-8 text of the config file at ``path`` (a pipe such as ``<(...)`` too), reading at most
    ``MAX_TEXT_BYTES`` + 1 bytes. ConfigError naming ``where`` (and ``what`` the file is: "admin policy", ...) when it
    cannot be read, is larger, or is not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} ({exc.strerror}); check the path", where=where) from exc
    if len(data) > MAX_TEXT_BYTES:
        raise _too_large(what, where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8", where=where) from exc


def parse_yaml(text: str, where: str, *, reject_duplicates: bool = True) -> tuple[Any, Lines, list[Duplicate]]:
    """Plain data, a map from key path to line number, and the keys given twice.

    Raises ConfigError (naming ``where`` and the line) for a syntax error, for aliases that expand past
    ``MAX_EXPANDED_NODES``, and, unless ``reject_duplicates`` is False (the caller lists them itself), for the first
    duplicate key, and for a text over ``MAX_TEXT_BYTES`` (UTF-8)."""
    if len(text) > MAX_TEXT_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise _too_large("config file", where)
    loader, node = _compose(text, where)
    try:
        if node is None:
            return None, {}, []
        if expanded_size(node) > MAX_EXPANDED_NODES:
            raise ConfigError(
                f"its aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values; write the values out "
                "instead of nesting aliases",
                where=where,
            )
        found = duplicates(node)
        if found and reject_duplicates:
            first = found[0]
            raise ConfigError("key given twice; keep one", where=f"{where}:{first.line}", key=first.key)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, where) from exc
        lines: Lines = {}
        _line_map(node, (), lines)
        return data, lines, found
    finally:
        loader.dispose()
