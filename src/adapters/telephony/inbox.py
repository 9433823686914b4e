"""Reports cross threads here: telephony adapters report from whatever thread the network uses
(web-server workers for Twilio's webhooks, the SIP library's threads); the dialler's own thread
drains the inbox and acts on each report in arrival order (the dialler is not thread-safe, and
need not be)."""

from __future__ import annotations

import queue
from collections.abc import Callable

from dialer_domain.service_layer.ports import CallReport


class ReportInbox:
    """The ReportSink of a live dialler."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[CallReport] = queue.SimpleQueue()

    def report(self, report: CallReport) -> None:
        self._queue.put(report)

    def drain(self, handle: Callable[[CallReport], object], *, wait: float = 0.0, limit: int = 10_000) -> int:
        """Hand every waiting report to ``handle`` (at most ``limit``), after waiting up to ``wait``
        seconds for the first; returns how many."""
        done = 0
        try:
            first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return 0
        handle(first)
        done += 1
        while done < limit:
            try:
                r = self._queue.get_nowait()
            except queue.Empty:
                break
            handle(r)
            done += 1
        return done

    def __len__(self) -> int:
        return self._queue.qsize()
