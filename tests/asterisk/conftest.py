"""The real Asterisk 22 fixture (issue 10 part 4; no __init__.py here: a package named `asterisk`
would shadow pyst2's on sys.path): unpacked once per session from
../shared/asterisk/prebuilt, started with the project's own test configuration, stopped at the end.

Without ../shared/asterisk the tests skip with the reason; with AUTOINFORM_TEST_REQUIRE_ASTERISK=1
(set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asterisk.prebuilt import REQUIRE_ENV, AsteriskInstance, Unavailable, ensure_debs, unpack


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def asterisk_home() -> Path:
    """The unpacked prebuilt tree, its Debian runtime libraries present."""
    try:
        home = unpack()
        ensure_debs(home)
    except Unavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: skip/fail raise
    return home


def _running(home: Path, runtime: Path) -> Iterator[AsteriskInstance]:
    instance = AsteriskInstance(home, runtime)
    try:
        instance.start()
    except Unavailable as exc:
        _unavailable(str(exc))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def asterisk(asterisk_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskInstance]:
    """One Asterisk for the session: AMI user `autoinform` (docs/asterisk/manager.conf) on a free
    loopback port, the docs dialplan plus the test contexts."""
    yield from _running(asterisk_home, tmp_path_factory.mktemp("ast"))


@pytest.fixture(scope="session")
def asterisk2(asterisk_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskInstance]:
    """A second Asterisk, its own AMI and SIP ports and runtime dir: calls over two servers."""
    yield from _running(asterisk_home, tmp_path_factory.mktemp("ast2"))
