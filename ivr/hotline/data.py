"""Loading the hotline's YAML data (menu.yaml, info.yaml) with the scenarios' machinery: every
problem names its file, line and field (autoinform.scenarios.yamlsource and loader)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from autoinform.errors import HotlineDataError, ScenarioError
from autoinform.scenarios.loader import ScenarioErrors, pydantic_error
from autoinform.scenarios.yamlsource import DataPath, LineMap, YamlProblem, parse

M = TypeVar("M", bound=BaseModel)


def field_name(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(document)"


def _ours(err: ScenarioError) -> HotlineDataError:
    return err if isinstance(err, HotlineDataError) else HotlineDataError(
        err.detail, file=err.file, line=err.line, field=err.field)


class HotlineDataErrors(ScenarioErrors, HotlineDataError):
    """Several problems at once (`errors`); file, line and field are those of the first."""


def combine(errors: Sequence[ScenarioError]) -> HotlineDataError:
    """One error as itself, several together (file, line and field of the first)."""
    ours = [_ours(e) for e in errors]
    return ours[0] if len(ours) == 1 else HotlineDataErrors(ours)


def problem(message: str, file: str, lines: LineMap, path: DataPath) -> HotlineDataError:
    return HotlineDataError(message, file=file, line=lines.line_for(path), field=field_name(path))


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HotlineDataError("file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise HotlineDataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise HotlineDataError(f"cannot read: {exc.strerror}", file=str(path)) from None


def parse_model(text: str, file: str, model: type[M]) -> tuple[M, LineMap]:
    """The validated model of a YAML document, and the line of every node for later checks."""
    try:
        data, lines = parse(text)
    except YamlProblem as exc:
        raise HotlineDataError(exc.message, file=file, line=exc.line,
                               field=field_name(exc.path) if exc.path else None) from None
    if not isinstance(data, dict):
        raise HotlineDataError("the document must be a mapping of fields", file=file, line=1)
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise combine([pydantic_error(err, file, lines) for err in exc.errors()]) from None
