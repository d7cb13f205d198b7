"""The scenario template syntax: text with `{variable}` or `{variable:format}` placeholders.

Deliberately tiny: no expressions, no filters, no conditionals, so a template can be checked
completely at load time. `{{` and `}}` stand for literal braces; any other brace is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FIELD = re.compile(r"(?P<name>[a-z_][a-z0-9_]*)(?::(?P<fmt>[a-z_]+))?")


class TemplateSyntaxError(ValueError):
    """A template cannot be parsed; `column` is 1-based within the template text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column


@dataclass(frozen=True)
class Placeholder:
    name: str
    fmt: str | None = None

    def __str__(self) -> str:
        return "{" + self.name + (f":{self.fmt}" if self.fmt else "") + "}"


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(source):
            literal.append(source[pos:match.start()])
            pos = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
                continue
            if match.group(1) is None:
                raise TemplateSyntaxError(f"unmatched {token!r} (write {token * 2!r} for a literal brace)",
                                          match.start() + 1)
            field = _FIELD.fullmatch(match.group(1).strip())
            if field is None:
                raise TemplateSyntaxError(f"bad placeholder {token!r}: expected {{name}} or {{name:format}}"
                                          " with lower-case latin names", match.start() + 1)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(field.group("name"), field.group("fmt")))
        literal.append(source[pos:])
        if "".join(literal):
            parts.append("".join(literal))
        return cls(source, tuple(p for p in parts if p != ""))

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    @cached_property
    def pattern(self) -> tuple[str, tuple[tuple[str, str | None], ...]]:
        """The template as a str.format pattern over its distinct (name, format) placeholders:
        rendering is then one C-level call instead of a Python step per part."""
        keys: dict[tuple[str, str | None], int] = {}
        pattern = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str)
                          else f"{{{keys.setdefault((p.name, p.fmt), len(keys))}}}" for p in self.parts)
        return pattern, tuple(keys)

    def render(self, value_of: Callable[[Placeholder], str]) -> str:
        pattern, keys = self.pattern
        return pattern.format(*[value_of(Placeholder(name, fmt)) for name, fmt in keys])

    def __str__(self) -> str:
        return self.source
