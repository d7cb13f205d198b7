"""YAML parsing that remembers where every key and value came from, for errors naming the line.

Only plain data is accepted (the safe loader's types). Duplicate keys are an error: PyYAML would
silently keep the last one, and a scenario author would never learn which text is live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

DataPath = tuple[str | int, ...]  # keys and list indexes from the document root


class YamlProblem(ValueError):
    def __init__(self, message: str, line: int | None, path: DataPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


@dataclass
class LineMap:
    """1-based line of each data path: ("phone", "steps", 0, "say") -> 12."""

    lines: dict[DataPath, int] = field(default_factory=dict)

    def line_for(self, path: Sequence[str | int]) -> int | None:
        """The line of `path`, else of its nearest ancestor that exists (a missing field)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get(())


def parse(text: str) -> tuple[Any, LineMap]:
    """The data of a YAML document and the line of every node in it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlProblem(f"YAML syntax: {exc.problem or exc}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML: {exc}", None) from None
    if node is None:
        raise YamlProblem("empty document", 1)
    lines = LineMap()
    _index(node, (), lines)
    data = yaml.SafeLoader(text).construct_document(node)
    return data, lines


def _index(node: yaml.Node, path: DataPath, lines: LineMap) -> None:
    lines.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlProblem(f"duplicate key {key!r} (first at line {seen[key]})", line,
                                  (*path, str(key)))
            seen[key] = line
            child = (*path, str(key))
            _index(value_node, child, lines)
            lines.lines[child] = line  # a key's errors point at the key's own line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)
