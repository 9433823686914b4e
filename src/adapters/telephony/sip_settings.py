"""The SIP user agent's settings, from the environment (``adapters.telephony.sip``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs


@attrs.frozen
class SipSettings:
    """From the environment: DIALER_SIP_TRUNK (host:port where calls go), DIALER_SIP_BIND
    (address:port to listen on; default 127.0.0.1 and any port), DIALER_SIP_DOMAIN (the caller ID's
    host; default the trunk's), DIALER_SIP_REGISTRAR, DIALER_SIP_USERNAME and DIALER_SIP_PASSWORD
    (optional registration), DIALER_SIP_AMD_HEADER (default X-AMD-Result), DIALER_SIP_ABANDON_WAV."""

    trunk: str
    bind_address: str = "127.0.0.1"
    bind_port: int = 0
    domain: str = ""
    registrar: str = ""
    username: str = ""
    password: str = attrs.field(default="", repr=False)
    amd_header: str = "X-AMD-Result"
    abandon_wav: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SipSettings:
        trunk = env.get("DIALER_SIP_TRUNK", "")
        if not trunk:
            raise ValueError("DIALER_TELEPHONY=sip needs DIALER_SIP_TRUNK (host:port of the SIP trunk or proxy)")
        host, _, port = env.get("DIALER_SIP_BIND", "127.0.0.1:0").rpartition(":")
        if not port.isdigit():
            raise ValueError("DIALER_SIP_BIND must be ADDRESS:PORT")
        return cls(
            trunk=trunk,
            bind_address=host or "127.0.0.1",
            bind_port=int(port),
            domain=env.get("DIALER_SIP_DOMAIN", ""),
            registrar=env.get("DIALER_SIP_REGISTRAR", ""),
            username=env.get("DIALER_SIP_USERNAME", ""),
            password=env.get("DIALER_SIP_PASSWORD", ""),
            amd_header=env.get("DIALER_SIP_AMD_HEADER", "X-AMD-Result"),
            abandon_wav=env.get("DIALER_SIP_ABANDON_WAV", ""),
        )
