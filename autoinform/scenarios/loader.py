"""Loading scenario files: every problem reported with its file, line and field (AI-3)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from autoinform.errors import ScenarioError
from autoinform.scenarios.model import ScenarioSpec
from autoinform.scenarios.references import problems
from autoinform.scenarios.scenario import Scenario
from autoinform.scenarios.yamlsource import LineMap, YamlProblem, parse

log = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")


class ScenarioErrors(ScenarioError):
    """Several problems at once; file, line and field are those of the first."""

    def __init__(self, errors: Sequence[ScenarioError]) -> None:
        if not errors:
            raise ValueError("ScenarioErrors needs at least one error")
        first = errors[0]
        super().__init__(first.detail, file=first.file, line=first.line, field=first.field)
        self.errors = list(errors)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


def _field(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(document)"


def combine(errors: Sequence[ScenarioError]) -> ScenarioError:
    """One error as itself, several as ScenarioErrors."""
    return errors[0] if len(errors) == 1 else ScenarioErrors(errors)


def parse_scenario(text: str, file: str, expected_name: str | None = None) -> Scenario:
    """A scenario from its YAML text; ScenarioError (or ScenarioErrors) naming file, line, field."""
    try:
        data, lines = parse(text)
    except YamlProblem as exc:
        raise ScenarioError(exc.message, file=file, line=exc.line,
                            field=_field(exc.path) if exc.path else None) from None
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a mapping of fields (name, title, kind, …)", file=file, line=1)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise combine([_pydantic_error(err, file, lines) for err in exc.errors()]) from None
    errors = [ScenarioError(p.message, file=file, line=lines.line_for(p.path), field=_field(p.path))
              for p in problems(spec)]
    if expected_name is not None and spec.name != expected_name:
        errors.append(ScenarioError(f"name {spec.name!r} must match the file name {expected_name!r}",
                                    file=file, line=lines.line_for(("name",)), field="name"))
    if errors:
        raise combine(errors)
    return Scenario(spec=spec, source=text, path=Path(file))


def _pydantic_error(err: ErrorDetails, file: str, lines: LineMap) -> ScenarioError:
    loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "extra_forbidden":
        message = "unknown field"
    return ScenarioError(message, file=file, line=lines.line_for(loc), field=_field(loc))


pydantic_error = _pydantic_error
"""One pydantic error as a ScenarioError with its line (hotline data files reuse it)."""


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except FileNotFoundError:
        # Usually a mistyped name (`campaigns create --scenario NAME`): say which names exist.
        known = [p.stem for p in scenario_files(path.parent)] if path.parent.is_dir() else []
        raise ScenarioError(f"no scenario {path.stem!r}; known: {', '.join(known) or 'none'} "
                            f"(files in {path.parent})", file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_scenario(text, str(path), expected_name=path.stem)


def scenario_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ScenarioError("scenarios directory not found", file=str(directory))
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


def load_all(directory: Path) -> list[Scenario]:
    """Every scenario of a directory; all problems of all files raised together."""
    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    for path in scenario_files(directory):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioErrors as exc:
            errors.extend(exc.errors)
        except ScenarioError as exc:
            errors.append(exc)
    errors.extend(_prompt_conflicts(scenarios))
    if errors:
        raise combine(errors)
    log.debug("loaded %d scenarios from %s", len(scenarios), directory)
    return scenarios


def _prompt_conflicts(scenarios: Sequence[Scenario]) -> list[ScenarioError]:
    """One prompt id is one audio file: two scenarios may share it only with the same text."""
    seen: dict[str, tuple[str, Scenario]] = {}
    errors: list[ScenarioError] = []
    for scenario in scenarios:
        for prompt, text in scenario.prompt_texts().items():
            if prompt in seen and seen[prompt][0] != text:
                other = seen[prompt][1].file
                errors.append(ScenarioError(f"prompt {prompt!r} has a different text in {other}",
                                            file=scenario.file, field="phone.steps"))
            seen.setdefault(prompt, (text, scenario))
    return errors
