"""Scenario test builders: a minimal valid scenario and a customer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autoinform.content import Recipient

MINIMAL = """\
name: {name}
title: Тест
kind: debt_reminder
variables:
  debt:
    type: money
    description: Сумма долга
  due:
    type: date
    required: false
    default: "2026-12-10"
phone:
  confirm_key: 1
  operator_key: 0
  steps:
    - id: intro
      prompt: test/intro
      text: "Здравствуйте!"
    - id: debt
      say: money
      var: debt
      required: true
sms:
  text: "{{name}}, долг {{debt}} до {{due}}"
email:
  subject: "Долг по л/с {{account}}"
  text: "{{name}}, долг {{debt}}"
  html: "<p>{{name}}, долг <b>{{debt}}</b></p>"
"""

WriteScenario = Callable[..., Path]


def customer(**variables: object) -> Recipient:
    return Recipient(account="300012345", name="Петров Пётр Петрович", group=1, division="",
                     address="г. Астрахань, ул. Ленина, д. 1", variables=dict(variables))
