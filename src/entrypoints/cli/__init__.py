"""The `dialer` command line. Each module registers its commands on the groups in ``common``;
a command imports what it needs when it runs, so `dialer --help` starts fast."""

from entrypoints.cli import audit, callbacks, campaigns, compliance, dnc, lists, run, selection, serve, stats, tokens  # noqa: F401  (they register their commands)
from entrypoints.cli.common import app

__all__ = ["app"]
