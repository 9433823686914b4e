"""A mock of Twilio's REST API made from Twilio's own OpenAPI description, served by Stoplight
Prism on 127.0.0.1 (both installed by scripts/test-tools), and signed webhook requests as Twilio
sends them."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / ".cache/prism/node_modules/.bin/prism"
SPEC = ROOT / ".cache/twilio/twilio_api_v2010.patched.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory) -> Iterator[str]:
    assert PRISM.exists() and SPEC.exists(), "Prism or Twilio's API description is missing: run scripts/test-tools (scripts/test does)"
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(port) or proc.poll() is not None, timeout=120, what="Prism to listen")
        assert proc.poll() is None, f"Prism stopped: {log.read_text()[-2000:]}"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio computes for a POST of ``form`` to ``url``."""
    return str(RequestValidator(auth_token).compute_signature(url, form))
