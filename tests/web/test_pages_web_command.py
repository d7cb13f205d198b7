"""`autoinform web` serves the web app alone (issue 12 item 1), bound to 127.0.0.1 by default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT


def test_autoinform_web_serves_the_pages_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "AUTOINFORM_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
           "AUTOINFORM_VAR_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([sys.executable, "-m", "autoinform", "web", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "autoinform web did not answer"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        js = httpx.get(f"http://127.0.0.1:{port}/static/live.js")
        assert js.status_code == 200 and "EventSource" in js.text
        # No log-in here: a page is refused, not shown.
        assert httpx.get(f"http://127.0.0.1:{port}/lists", follow_redirects=False).status_code in (401, 303)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    # uvicorn shuts down, then lets the signal end the process as it would have (-SIGTERM).
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Finished server process" in out and "Traceback" not in out
