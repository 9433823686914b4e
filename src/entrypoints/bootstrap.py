"""The one place where everything is wired together."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: `dialer --help` starts without the store's libraries
    from adapters.auth.tokens import TokenStore
    from adapters.crm.webhook import CrmWebhook
    from adapters.lists.dnc import DncStore
    from adapters.persistence.eventstore import RecorderEventStore
    from adapters.views.queue_port import PersistedQueue
    from dialer_domain.service_layer.engine import Dialler, EngineConfig
    from dialer_domain.service_layer.ports import AgentDesktop, Clock, EventStore, IdFactory, QueueView, ReportSink, Telephony
    from dialer_domain.service_layer.repository import Repository


class WallClock:
    """The Clock port on wall time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def database_url() -> str:
    from adapters.persistence.eventstore import DEFAULT_DATABASE_URL

    return os.environ.get("DIALER_DATABASE_URL", DEFAULT_DATABASE_URL)


def engine_config() -> EngineConfig:
    """The live dialler's settings: ``DIALER_PACE_EVERY_SECONDS`` (0 to 5: 0 paces power and
    predictive campaigns after every event, more at most so often; unset: automatic, 0 below 100
    agents logged in and 0.5 s from there, ADR 0026)."""
    from dialer_domain.service_layer.engine import EngineConfig

    raw = os.environ.get("DIALER_PACE_EVERY_SECONDS", "").strip()
    if not raw:
        return EngineConfig()
    try:
        every = float(raw)
    except ValueError:
        raise ValueError(f"DIALER_PACE_EVERY_SECONDS={raw!r} is not a number of seconds (0 to 5)") from None
    if not 0 <= every <= 5:
        raise ValueError(f"DIALER_PACE_EVERY_SECONDS={raw!r} is outside 0 to 5 seconds")
    return EngineConfig(pace_every_seconds=every)


class StoreUnavailable(RuntimeError):
    """The store could not be opened (unreachable, refused, misconfigured); the message names the
    store without its password."""


def store(url: str | None = None) -> RecorderEventStore:
    from eventsourcing.persistence import PersistenceError

    from adapters.persistence.eventstore import open_event_store, redact

    url = url or database_url()
    try:
        return open_event_store(url)
    except PersistenceError as exc:
        raise StoreUnavailable(f"cannot open the store {redact(url)}: {str(exc).replace(url, redact(url))}") from None


def repository(url: str | None = None) -> tuple[Repository, RecorderEventStore]:
    from dialer_domain.service_layer.repository import Repository

    s = store(url)
    return Repository(s), s


def repository_on(store: RecorderEventStore) -> tuple[Repository, RecorderEventStore]:
    """A repository on a store already open."""
    from dialer_domain.service_layer.repository import Repository

    return Repository(store), store


def queue(store: RecorderEventStore, url: str | None = None) -> QueueView | None:
    """The engine's queue view: the persisted one on SQLite and PostgreSQL (one view and pool per
    store), what it folded and has not written yet written when the store closes (ADR 0040); None
    (the engine folds it in memory) on the memory store."""
    port = _persisted_queue(store, url)
    if port is not None:
        store.on_close(port.close)
    return port


def _persisted_queue(store: RecorderEventStore, url: str | None = None) -> PersistedQueue | None:
    url = url or store.url
    if not url.startswith(("sqlite", "postgres")):
        return None
    from adapters.views.base import open_view
    from adapters.views.queue import QUEUE_PROJECTION
    from adapters.views.queue_port import PersistedQueue

    shared = store.shared(f"view:{QUEUE_PROJECTION}:{url}", lambda: open_view(url, QUEUE_PROJECTION), lambda v: v.factory.close())
    return PersistedQueue(store, shared)


def queue_reader(store: RecorderEventStore) -> QueueView:
    """The queue for a reader besides the engine (assignment, R13): the persisted view caught up
    with the log, or on the memory store a fold of the log's contact events."""
    persisted = _persisted_queue(store)
    if persisted is not None:
        return persisted
    from adapters.views.queue import QUEUE_TOPICS
    from dialer_domain.service_layer.live_queue import LiveQueue
    from dialer_domain.service_layer.repository import iter_log

    folded = LiveQueue()
    for r in iter_log(store, page=20000, topics=QUEUE_TOPICS):
        folded.apply(r.event)
    return folded


def view(url: str | None = None, projection: str = "statistics") -> Any:
    """A persisted view (the statistics or the queue) on the store's database."""
    from adapters.views.base import open_view

    return open_view(url or database_url(), projection)


def dialler(
    store: EventStore,
    telephony: Telephony,
    clock: Clock,
    ids: IdFactory,
    *,
    desktop: AgentDesktop | None = None,
    queue: QueueView | None = None,
    config: EngineConfig | None = None,
) -> Dialler:
    """The dialler on its ports (``queue`` None: it folds the queue in memory)."""
    from adapters.lists.calendar import PhoneCalendar
    from dialer_domain.service_layer.engine import Dialler, EngineConfig

    return Dialler(
        store,
        telephony,
        clock,
        ids,
        desktop=desktop,
        config=config or EngineConfig(),
        queue=queue,
        calendar=PhoneCalendar(),
        do_not_call=do_not_call(store),
    )


def telephony(sink: ReportSink) -> Telephony:
    """The telephony adapter ``DIALER_TELEPHONY`` names (``twilio`` or ``sip``), reporting to
    ``sink``. Settings and credentials come from the environment (``adapters.telephony.twilio``,
    ``adapters.telephony.sip``)."""
    kind = os.environ.get("DIALER_TELEPHONY", "")
    if kind == "twilio":
        from adapters.telephony.twilio import TwilioSettings, TwilioTelephony

        return TwilioTelephony(TwilioSettings.from_env(), sink)
    if kind == "sip":
        from adapters.telephony.sip import SipTelephony
        from adapters.telephony.sip_settings import SipSettings

        return SipTelephony(SipSettings.from_env(), sink)
    if kind in ("", "simulated"):
        raise ValueError("the simulated world runs inside `dialer simulate`; live calls need DIALER_TELEPHONY=twilio or sip")
    raise ValueError(f"DIALER_TELEPHONY={kind!r} is not a telephony adapter (twilio, sip)")


def tokens(store: RecorderEventStore) -> TokenStore:
    """The API's bearer tokens, kept in the store's database (in memory on the memory store)."""
    from adapters.auth.tokens import TokenStore

    datastore = getattr(store.recorder, "datastore", None)
    found: TokenStore = store.shared("tokens", lambda: TokenStore(datastore), lambda _: None)
    return found


def do_not_call(store: EventStore) -> DncStore:
    """The do-not-call lists, kept in the store's database (in memory on the memory store)."""
    from adapters.lists.dnc import DncStore

    datastore = getattr(getattr(store, "recorder", None), "datastore", None)
    shared = getattr(store, "shared", None)
    if shared is None:  # the unit tests' in-memory store (tests/fakes.py) shares nothing: lists of its own
        return DncStore(datastore)
    found: DncStore = shared("do_not_call", lambda: DncStore(datastore), lambda _: None)
    return found


def crm_webhook() -> CrmWebhook | None:
    """The outgoing CRM webhook (R9) when ``DIALER_CRM_WEBHOOK_URL`` is set (with its secret)."""
    from adapters.crm.webhook import CrmSettings, CrmWebhook

    settings = CrmSettings.from_env()
    return None if settings is None else CrmWebhook(settings)
