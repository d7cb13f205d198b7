"""Fixtures of the web app's tests. Each helper keeps its own in a module of its own, imported here."""

from tests.web.pages_fixtures import *  # noqa: F403
