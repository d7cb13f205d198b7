"""Top-level commands: `autoinform run` and `autoinform demo`."""

from __future__ import annotations
