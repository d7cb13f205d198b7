"""What `autoinform scenarios check` reports for each scenario: variables, channels, SMS parts in
the sample and the worst case (AI-17), renderings that fail, and prompts without audio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autoinform.errors import RenderError, SkipDelivery
from autoinform.scenarios import samples
from autoinform.scenarios.model import BUILTINS
from autoinform.scenarios.references import templates_of
from autoinform.scenarios.render import fill, render
from autoinform.scenarios.resolve import Resolver
from autoinform.scenarios.scenario import Scenario
from autoinform.scenarios.sms import SmsInfo, encode_info
from ivr import prompts


@dataclass(frozen=True)
class VariableInfo:
    name: str
    type: str
    required: bool
    description: str
    detail: str  # unit, default, timeline


@dataclass
class ScenarioReport:
    name: str
    title: str
    kind: str
    file: str | None
    sha256: str
    channels: tuple[str, ...]
    variables: list[VariableInfo]
    sms_sample: SmsInfo | None = None
    sms_worst: SmsInfo | None = None
    sms_max_segments: int | None = None
    prompts: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _variables(scenario: Scenario) -> list[VariableInfo]:
    result = []
    for name, var in scenario.spec.variables.items():
        details = [f"unit={var.unit}" if var.unit else "",
                   f"timeline={var.timeline} (computed when absent)" if var.timeline else "",
                   f"default={var.default}" if var.default is not None else "",
                   f"max_length={var.max_length}" if var.max_length else ""]
        result.append(VariableInfo(name, str(var.type), var.required, var.description,
                                   ", ".join(d for d in details if d)))
    return result


def _used_builtins(scenario: Scenario) -> set[str]:
    used = {ph.name for _, t in templates_of(scenario.spec) for ph in t.placeholders}
    if scenario.spec.phone:
        used |= {s.var for s in scenario.spec.phone.steps if s.var}
    return used & set(BUILTINS)


def check_scenario(scenario: Scenario, audio_dir: Path | None = None) -> ScenarioReport:
    report = ScenarioReport(
        name=scenario.name, title=scenario.title, kind=str(scenario.kind), file=scenario.file,
        sha256=scenario.sha256, channels=tuple(str(c) for c in scenario.channels),
        variables=_variables(scenario))
    for group in scenario.spec.groups:  # timeline dates differ by group (AI-18): each is rendered
        example = samples.sample(scenario.spec, group=group)
        for channel in scenario.channels:
            try:
                render(scenario, channel, example.recipient, send_date=example.send_date)
            except RenderError as exc:
                report.errors.append(f"{channel}, sample values, group {group}: {exc.detail}")
            except SkipDelivery as exc:  # a check must show a message: the samples must be sent
                report.errors.append(f"{channel}, sample values, group {group}: skipped by skip_when "
                                     f"{exc.reason}: {exc.detail}; give samples that are sent")
    if scenario.spec.sms is not None:
        _sms(scenario, report)
    if scenario.spec.phone is not None:
        _phone(scenario, report, audio_dir)
    return report


def _sms(scenario: Scenario, report: ScenarioReport) -> None:
    assert scenario.spec.sms is not None
    report.sms_max_segments = scenario.spec.sms.max_segments
    group = scenario.spec.groups[0]
    for label, example in (("sample", samples.sample(scenario.spec, group)),
                           ("worst", samples.worst(scenario.spec, group))):
        resolver = Resolver(scenario.spec, example.recipient, send_date=example.send_date, file=scenario.file)
        try:
            text = fill(scenario.spec.sms.text, resolver)
        except RenderError as exc:
            report.errors.append(f"sms, {label} values: {exc.detail}")
            continue
        info = encode_info(text.strip())
        if label == "sample":
            report.sms_sample = info
        else:
            report.sms_worst = info
            report.warnings += [f"sms worst case: {note}" for note in example.notes]
            limit = scenario.spec.sms.max_segments
            if limit is not None and info.segments > limit:
                report.warnings.append(f"sms worst case is {info.segments} parts, more than max_segments "
                                       f"{limit}: long values will fail to render")
    if "name" in _used_builtins(scenario) or "address" in _used_builtins(scenario):
        bounds = ", ".join(f"{k}≤{v}" for k, v in samples.BUILTIN_WORST_LENGTHS.items())
        report.warnings.append(f"sms worst case assumes customer fields of {bounds} characters")


def _phone(scenario: Scenario, report: ScenarioReport, audio_dir: Path | None) -> None:
    assert scenario.spec.phone is not None
    for step in scenario.spec.phone.steps:
        if step.prompt is None and step.say is None:
            report.warnings.append(f"phone step {step.id!r} has no prompt: only a channel with "
                                   "text-to-speech can play it")
    try:  # one id is one audio file: a scenario cannot give an engine prompt another text
        prompts.catalogue(scenario.prompt_texts())
    except prompts.PromptError as exc:
        report.errors.append(str(exc))
    ids = scenario.prompt_ids()
    report.prompts = len(ids)
    if audio_dir is None:
        return
    for pid in prompts.missing(sorted(ids), audio_dir):
        report.errors.append(f"prompt {pid!r} has no audio in {audio_dir} (run `autoinform audio build`)")
    for pid, reason in sorted(prompts.stale(audio_dir, scenario.prompt_texts()).items()):
        if reason != "missing":
            report.errors.append(f"prompt {pid!r} audio is {reason} (run `autoinform audio build`)")


def check_all(scenarios: Sequence[Scenario], audio_dir: Path | None = None) -> list[ScenarioReport]:
    return [check_scenario(s, audio_dir) for s in scenarios]
