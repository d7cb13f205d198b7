"""Notification scenarios (AI-3): YAML files with typed variables and per-channel content,
validated on load and rendered strictly for each recipient."""

from autoinform.scenarios.loader import ScenarioErrors, load_all, load_scenario, parse_scenario
from autoinform.scenarios.render import render, render_email, render_phone, render_sms
from autoinform.scenarios.scenario import Scenario
from autoinform.scenarios.sms import SmsInfo, encode_info

__all__ = [
    "Scenario",
    "ScenarioErrors",
    "SmsInfo",
    "encode_info",
    "load_all",
    "load_scenario",
    "parse_scenario",
    "render",
    "render_email",
    "render_phone",
    "render_sms",
]
