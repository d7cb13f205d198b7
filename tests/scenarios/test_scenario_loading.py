"""Scenario validation errors name the file, the line and the field (AI-3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoinform.errors import ScenarioError
from autoinform.scenarios import ScenarioErrors, load_all, load_scenario
from tests.scenarios.builders import MINIMAL, WriteScenario

VALID = MINIMAL.format(name="test_scenario")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def broken(write: WriteScenario, old: str, new: str) -> tuple[Path, str]:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    return write(text), text


def load_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    return exc.value


def test_ai3_valid_minimal_scenario_loads(write_scenario: WriteScenario) -> None:
    scenario = load_scenario(write_scenario(VALID))
    assert scenario.name == "test_scenario"
    assert scenario.source == VALID
    assert len(scenario.sha256) == 64
    assert scenario.prompt_texts() == {"test/intro": "Здравствуйте!"}


@pytest.mark.parametrize(("old", "new", "needle", "field", "message"), [
    ("      required: true\n", "      required: true\n      volume: 3\n", "volume:",
     "phone.steps.1.volume", "unknown field"),
    ("type: money", "type: currency", "type: currency", "variables.debt.type", "Input should be"),
    ('default: "2026-12-10"', 'default: "10 декабря"', "default:", "variables.due.default", "not a date"),
    ("confirm_key: 1", "confirm_key: 12", "confirm_key", "phone.confirm_key", "pattern"),
    ('text: "{name}, долг {debt} до {due}"', 'text: "{name}, долг {debt} до {due_date}"',
     "до {due_date}", "sms.text", "unknown variable {due_date}"),
    ('text: "{name}, долг {debt} до {due}"', 'text: "{name}, долг {debt:long} до {due}"',
     "{debt:long}", "sms.text", "format 'long' does not apply to money"),
    ('subject: "Долг по л/с {account}"', 'subject: "Долг по л/с {account"', "subject:",
     "email.subject", "unmatched '{'"),
    ("      say: money\n", "      say: date\n", "say: date", "phone.steps.1.say", "cannot `say: date`"),
    ("      var: debt\n", "      var: dept\n", "var: dept", "phone.steps.1.var", "unknown variable 'dept'"),
    ('      text: "Здравствуйте!"', '      text: "Здравствуйте, {name}!"', "- id: intro",
     "phone.steps.0", "cannot hold placeholders"),
    ("    - id: debt\n", "    - id: intro\n", "- id: intro", "phone.steps.1.id", "duplicate step id"),
    ("  due:\n", "  name:\n", "  name:", "variables.name", "built-in variable"),
    ("kind: debt_reminder", "kind: restriction_warning", "kind:", "kind", "timeline"),
    ("name: test_scenario", "name: other_name", "name: other_name", "name", "must match the file name"),
    ("    required: false\n", "", "  due:", "variables.due", "set `required: false`"),
    ("    type: money\n", "    type: quantity\n", "  debt:", "variables.debt", "`unit` is required"),
    ("  confirm_key: 1\n", "  confirm_key: 0\n", "phone:", "phone", "must differ"),
    ("    required: false\n", "    required: false\n    after: debt\n", "after: debt", "variables.due.after",
     "one ordered type"),
    ("    required: false\n", "    required: false\n    after: paid_on\n", "after: paid_on",
     "variables.due.after", "not another variable"),
    ("    required: false\n", "    required: false\n    after: due\n", "after: due", "variables.due.after",
     "not another variable"),
])
def test_ai3_errors_name_file_line_and_field(write_scenario: WriteScenario, old: str, new: str,
                                             needle: str, field: str, message: str) -> None:
    path, text = broken(write_scenario, old, new)
    err = load_error(path)
    occurrence = 2 if needle == "- id: intro" and field.endswith(".id") else 1
    assert (err.file, err.line, err.field) == (str(path), line_of(text, needle, occurrence), field)
    assert message in err.detail
    assert str(err).startswith(f"{path}:{err.line}: {field}: ")


def test_ai14_phone_content_must_be_able_to_end_positive(write_scenario: WriteScenario) -> None:
    text = VALID.replace("  confirm_key: 1\n", "").replace("      required: true\n", "")
    err = load_error(write_scenario(text))
    assert (err.line, err.field) == (line_of(text, "phone:"), "phone")
    assert "no call can count as positive" in err.detail


def test_ai3_missing_field_points_at_its_parent(write_scenario: WriteScenario) -> None:
    path, text = broken(write_scenario, '      text: "Здравствуйте!"\n', "")
    err = load_error(path)
    assert (err.line, err.field) == (line_of(text, "- id: intro"), "phone.steps.0")
    path, text = broken(write_scenario, "title: Тест\n", "")
    err = load_error(path)
    assert (err.line, err.field) == (1, "title")
    assert err.detail == "required field is missing"


def test_ai3_yaml_syntax_error_has_its_line(write_scenario: WriteScenario) -> None:
    path, text = broken(write_scenario, "  debt:\n    type: money", "  debt:\n    type: [money")
    err = load_error(path)
    assert err.file == str(path)
    assert err.line is not None and err.line >= line_of(text, "type: [money")
    assert "YAML syntax" in err.detail


def test_ai3_duplicate_key_is_an_error_not_a_silent_override(write_scenario: WriteScenario) -> None:
    path, text = broken(write_scenario, "title: Тест\n", "title: Тест\ntitle: Другой\n")
    err = load_error(path)
    assert (err.line, err.field) == (line_of(text, "title: Другой"), "title")
    assert "duplicate key 'title' (first at line 2)" in err.detail


def test_ai3_several_problems_are_reported_together(write_scenario: WriteScenario) -> None:
    text = VALID.replace("{due}", "{nope}").replace("var: debt", "var: dept")
    err = load_error(write_scenario(text))
    assert isinstance(err, ScenarioErrors)
    fields = [e.field for e in err.errors]
    assert fields == ["sms.text", "phone.steps.1.var"]
    assert str(err).count("test_scenario.yaml:") == 2


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty document"),
    (b"- just\n- a list\n", "a scenario is a mapping"),
    ("title: Тест\n".encode("cp1251"), "not UTF-8"),
])
def test_ai3_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    err = load_error(path)
    assert err.file == str(path)
    assert message in err.detail


def test_ai3_load_all_aggregates_errors_with_file_names(write_scenario: WriteScenario) -> None:
    write_scenario(VALID)
    write_scenario(MINIMAL.format(name="second").replace("type: money", "type: rubles"), name="second")
    write_scenario(MINIMAL.format(name="third").replace("{debt}", "{debts}"), name="third")
    with pytest.raises(ScenarioErrors) as exc:
        load_all(write_scenario(VALID).parent)
    files = sorted(Path(e.file or "").name for e in exc.value.errors)
    assert files == ["second.yaml"] + ["third.yaml"] * 3  # {debts} in the SMS, text and HTML


def test_ai3_same_prompt_id_with_different_texts_across_files(write_scenario: WriteScenario) -> None:
    write_scenario(VALID)
    other = MINIMAL.format(name="other").replace('"Здравствуйте!"', '"Добрый день!"')
    write_scenario(other, name="other")
    with pytest.raises(ScenarioError, match="prompt 'test/intro' has a different text"):
        load_all(write_scenario(VALID).parent)


def test_ai3_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="scenarios directory not found"):
        load_all(tmp_path / "nope")
