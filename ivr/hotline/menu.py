"""The hotline menu as data (hotline/menu.yaml; HL-4, HL-6 … HL-10), validated on load.

Every problem names the file, line and field. `check_menu` adds what needs the outside world: each
prompt in the catalogue with built audio, each information topic in the information base; the
engine runs it before it answers the first call, `autoinform hotline check` on demand.

Keys: 1-9 choose items; the operator key (0) works in every menu; a menu may have a repeat key and,
below the start menu, must have a back key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autoinform.errors import HotlineDataError, ScenarioError
from autoinform.scenarios.yamlsource import LineMap
from ivr import prompts
from ivr.hotline.backend import TaskKind
from ivr.hotline.data import combine, parse_model, problem, read_text
from ivr.hotline.info import InfoBase, load_info

ITEM_KEYS = "123456789"
CONTROL_KEYS = "0123456789*#"


class Action(enum.StrEnum):
    BALANCE = "balance"  # HL-8
    READING = "reading"  # HL-7
    RECORD = "record"  # HL-9: a voice message that becomes a task of `task`'s kind
    VISIT = "visit"  # HL-10
    OPERATOR = "operator"  # HL-4


class Item(BaseModel):
    """What a key does: open a menu, speak an information topic, or run an action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # as it appears in the call's menu path
    menu: str | None = None
    info: str | None = None
    action: Action | None = None
    task: TaskKind | None = None  # with action: record

    @model_validator(mode="after")
    def _one_target(self) -> Item:
        given = [k for k in ("menu", "info", "action") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"an item has exactly one of menu, info, action (got {', '.join(given) or 'none'})")
        if (self.action == Action.RECORD) != (self.task is not None):
            raise ValueError("`task` (feedback, complaint, suggestion, …) goes with action: record, and only there")
        return self


class Menu(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts: list[str] = Field(min_length=1)  # played in order; they name the keys
    items: dict[str, Item] = Field(min_length=1)
    repeat_key: str | None = None
    back_key: str | None = None

    @field_validator("items")
    @classmethod
    def _item_keys(cls, items: dict[str, Item]) -> dict[str, Item]:
        bad = [k for k in items if len(k) != 1 or k not in ITEM_KEYS]
        if bad:
            raise ValueError(f"item keys are single digits 1-9 (0 is the operator's): {', '.join(map(repr, bad))}")
        return items

    @field_validator("repeat_key", "back_key")
    @classmethod
    def _control(cls, key: str | None) -> str | None:
        if key is not None and (len(key) != 1 or key not in CONTROL_KEYS):
            raise ValueError(f"a key is one of {CONTROL_KEYS}, got {key!r}")
        return key


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_timeout_ms: int = Field(5000, ge=500, le=30000)  # after a menu's prompts
    digit_timeout_ms: int = Field(6000, ge=500, le=30000)  # between keypad digits
    tries: int = Field(3, ge=1, le=10)  # silences or wrong keys before giving up
    record_max_s: int = Field(120, ge=5, le=600)
    record_silence_s: int = Field(5, ge=1, le=60)
    account_max_digits: int = Field(20, ge=1, le=32)
    reading_max_digits: int = Field(9, ge=1, le=12)


class MenuSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = "main"
    operator_key: str = "0"
    timing: Timing = Timing()
    menus: dict[str, Menu] = Field(min_length=1)


@dataclass(frozen=True)
class HotlineMenu:
    spec: MenuSpec
    file: str
    lines: LineMap = field(repr=False)

    @property
    def start(self) -> Menu:
        return self.spec.menus[self.spec.start]

    @property
    def timing(self) -> Timing:
        return self.spec.timing

    def prompt_ids(self) -> set[str]:
        return {p for m in self.spec.menus.values() for p in m.prompts}

    def info_topics(self) -> dict[str, tuple[str | int, ...]]:
        """Topic id -> the path of the first item naming it."""
        found: dict[str, tuple[str | int, ...]] = {}
        for mid, menu in self.spec.menus.items():
            for key, item in menu.items.items():
                if item.info is not None:
                    found.setdefault(item.info, ("menus", mid, "items", key, "info"))
        return found


def _problems(spec: MenuSpec, file: str, lines: LineMap) -> list[HotlineDataError]:
    errors: list[HotlineDataError] = []
    if spec.start not in spec.menus:
        errors.append(problem(f"start menu {spec.start!r} is not in menus", file, lines, ("start",)))
    if len(spec.operator_key) != 1 or spec.operator_key not in CONTROL_KEYS:
        errors.append(problem("the operator key is one key: a digit, * or #", file, lines, ("operator_key",)))
    reached = {spec.start}
    for mid, menu in spec.menus.items():
        base = ("menus", mid)
        used = {spec.operator_key: "operator_key"}
        for name in ("repeat_key", "back_key"):
            key = getattr(menu, name)
            if key is not None and key in used:
                errors.append(problem(f"{name} {key!r} is already the {used[key]}", file, lines, (*base, name)))
            elif key is not None:
                used[key] = name
        for key, item in menu.items.items():
            if key in used:
                errors.append(problem(f"key {key!r} is already the {used[key]}", file, lines, (*base, "items", key)))
            if item.menu is not None:
                reached.add(item.menu)
                if item.menu not in spec.menus:
                    errors.append(problem(f"no menu {item.menu!r}", file, lines, (*base, "items", key, "menu")))
                elif item.menu == mid:
                    errors.append(problem("a menu cannot open itself (use repeat_key)", file, lines,
                                          (*base, "items", key, "menu")))
        if mid != spec.start and menu.back_key is None:
            errors.append(problem("a menu below the start menu needs a back_key", file, lines, base))
        for i, pid in enumerate(menu.prompts):
            try:
                prompts.validate_id(pid)
            except prompts.PromptError as exc:
                errors.append(problem(str(exc), file, lines, (*base, "prompts", i)))
    for mid in spec.menus:
        if mid not in reached:
            errors.append(problem("no item opens this menu", file, lines, ("menus", mid)))
    return errors


def parse_menu(text: str, file: str) -> HotlineMenu:
    spec, lines = parse_model(text, file, MenuSpec)
    errors = _problems(spec, file, lines)
    if errors:
        raise combine(errors)
    return HotlineMenu(spec, file, lines)


def load_menu(path: Path) -> HotlineMenu:
    return parse_menu(read_text(path), str(path))


FLOW_PROMPTS = frozenset({
    "hotline/welcome", "hotline/recording_notice", "hotline/after_hours", "hotline/next_open",
    "hotline/at", "hotline/record_after_beep", "hotline/callback_promise", "hotline/no_input",
    "hotline/invalid_input", "hotline/retry", "hotline/goodbye", "hotline/enter_account",
    "hotline/account_not_found", "hotline/balance_debt", "hotline/balance_overpaid", "hotline/balance_zero",
    "hotline/balance_unknown", "hotline/as_of", "hotline/meter_type", "hotline/enter_reading",
    "hotline/enter_reading_day", "hotline/enter_reading_night", "hotline/you_entered", "hotline/day_zone",
    "hotline/night_zone", "hotline/confirm", "hotline/reading_accepted", "hotline/reading_too_low",
    "hotline/reading_too_high", "hotline/reading_wrong_registers", "hotline/reading_duplicate",
    "hotline/previous_reading", "hotline/feedback_record", "hotline/message_saved",
    "hotline/nothing_recorded", "hotline/visit_registered", "hotline/connecting_operator",
    "hotline/offer_callback", "hotline/survey_question", "hotline/survey_thanks", "hotline/info_missing",
    "hotline/technical_error",
})
"""Fixed phrases ivr/hotline/flow.py plays whatever the menu says."""


def check_menu(menu: HotlineMenu, info: InfoBase, audio_dir: Path | None,
               extra_prompts: Mapping[str, str] | None = None) -> list[ScenarioError]:
    """What stands between the data and the first call: unknown prompts, prompts without built
    audio (or built from another text; not checked when `audio_dir` is None), information topics
    the base lacks."""
    errors: list[ScenarioError] = []
    texts = {**info.prompt_texts(), **(extra_prompts or {})}
    try:
        catalogue = prompts.catalogue(texts)
    except prompts.PromptError as exc:
        return [HotlineDataError(str(exc), file=info.file)]
    for mid, m in menu.spec.menus.items():
        for i, pid in enumerate(m.prompts):
            if pid not in catalogue:
                errors.append(problem(f"prompt {pid!r} is not in the catalogue (ivr/phrases.py, info base)",
                                      menu.file, menu.lines, ("menus", mid, "prompts", i)))
    for topic, path in menu.info_topics().items():
        if topic not in info.topics:
            errors.append(problem(f"no topic {topic!r} in {info.file}", menu.file, menu.lines, path))
    for pid in sorted(FLOW_PROMPTS - set(catalogue)):
        errors.append(HotlineDataError(f"prompt {pid!r} the flow plays is not in ivr/phrases.py",
                                       file="ivr/hotline/flow.py"))
    if audio_dir is None:
        return errors
    wanted = menu.prompt_ids() | info.prompt_ids() | FLOW_PROMPTS | set(_spoken_words())
    known = {pid: catalogue[pid] for pid in sorted(wanted) if pid in catalogue}
    for pid, reason in sorted(prompts.stale(audio_dir, known).items()):
        errors.append(HotlineDataError(f"prompt {pid!r} audio is {reason} in {audio_dir} "
                                       "(run `autoinform audio build`)", file=_source(pid, menu, info)))
    return errors


def _spoken_words() -> set[str]:
    """Word prompts the flow's values can need (numbers, units, months): all of them."""
    from ivr.say import WORD_PROMPTS

    return set(WORD_PROMPTS)


def _source(pid: str, menu: HotlineMenu, info: InfoBase) -> str:
    if pid in menu.prompt_ids():
        return menu.file
    if pid in info.prompt_ids():
        return info.file
    return "ivr/phrases.py"


def load_checked(menu_file: Path, info_file: Path, audio_dir: Path) -> tuple[HotlineMenu, InfoBase]:
    """Both files loaded and checked against the prompts; every problem raised together."""
    errors: list[ScenarioError] = []
    menu: HotlineMenu | None = None
    info: InfoBase | None = None
    try:
        menu = load_menu(menu_file)
    except ScenarioError as exc:
        errors.extend(getattr(exc, "errors", [exc]))
    try:
        info = load_info(info_file)
    except ScenarioError as exc:
        errors.extend(getattr(exc, "errors", [exc]))
    if menu is not None and info is not None:
        errors.extend(check_menu(menu, info, audio_dir))
    if errors or menu is None or info is None:
        raise combine(errors)
    return menu, info
