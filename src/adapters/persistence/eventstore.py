"""The event store on the eventsourcing library's recorders (POPO, SQLite, PostgreSQL).

Domain events are attrs classes; they are mapped to the library's ``StoredEvent`` by
``CattrsMapper``: topic = the event's stable ``NAME`` (never a module path), state = JSON made by
cattrs with the schema version under ``"_v"``. Reading runs the registered upcasters from the stored
version up to the class's ``VERSION`` before the class's decoder builds the object (generated from
its fields, cattrs' hooks behind it: ``codec.event_decoder``; only the fields a fold reads, for a
fold that declares them: ``codec.partial_decoder``, ADR 0037).
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, IntegrityError, Mapper, StoredEvent, Transcoder
from eventsourcing.popo import POPOApplicationRecorder

from adapters.persistence.bulk import OpenCopy, conflict
from adapters.persistence.codec import event_decoder, event_encoder, make_event_converter, partial_decoder, uuid_of
from adapters.persistence.schema import GAP_MESSAGE, ensure_event_schema
from adapters.persistence.sqlite_pool import with_statement_cache
from adapters.persistence.streams import append_postgres, select_log_postgres, select_streams
from adapters.persistence.streams import recorder_kind as _kind
from adapters.persistence.upcasters import UPCASTERS, Upcaster
from dialer_domain.model.errors import ConcurrencyError
from dialer_domain.model.events import ALL_EVENTS, DomainEvent
from dialer_domain.rules.reads import Reads
from dialer_domain.service_layer.ports import RecordedEvent

DEFAULT_DATABASE_URL = "sqlite:///dialer.db"


class UnknownEventType(Exception):
    """A stored event whose name no registered class carries."""


class EventSchemaError(Exception):
    """A stored event whose state does not fit its class, even after upcasting."""


class EventRegistry:
    """Stable event names -> classes, and the upcasters between schema versions."""

    def __init__(
        self,
        events: Iterable[type[DomainEvent]] = ALL_EVENTS,
        upcasters: dict[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self.by_name: dict[str, type[DomainEvent]] = {}
        for cls in events:
            if not cls.NAME:
                raise ValueError(f"{cls.__qualname__} has no stable NAME")
            if cls.NAME in self.by_name:
                raise ValueError(f"two event classes are named {cls.NAME!r}")
            self.by_name[cls.NAME] = cls
        self.upcasters = dict(UPCASTERS if upcasters is None else upcasters)
        for cls in self.by_name.values():
            for v in range(1, cls.VERSION):
                if (cls.NAME, v) not in self.upcasters:
                    raise ValueError(f"{cls.NAME} is at schema v{cls.VERSION} but has no upcaster from v{v}")

    def resolve(self, name: str) -> type[DomainEvent]:
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownEventType(f"stored event name {name!r} is not registered; known names: {', '.join(sorted(self.by_name))}") from None

    def upcast(self, name: str, state: dict[str, Any], from_version: int, to_version: int) -> dict[str, Any]:
        if from_version > to_version:
            raise EventSchemaError(f"stored {name} is schema v{from_version}, newer than this code's v{to_version}")
        for v in range(from_version, to_version):
            state = self.upcasters[(name, v)](state)
        return state


class _NoTranscoder(Transcoder):
    """The mapper below does its own JSON; the library's transcoder is not used."""

    def encode(self, obj: Any) -> bytes:  # pragma: no cover
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:  # pragma: no cover
        raise NotImplementedError


class CattrsMapper(Mapper[UUID]):
    def __init__(self, registry: EventRegistry | None = None) -> None:
        super().__init__(transcoder=_NoTranscoder())
        self.registry = registry or EventRegistry()
        self.converter = make_event_converter()
        self._by_topic: dict[str, tuple[type[Any], int, Callable[..., Any]]] = {}  # class, version, decoder: made once
        self._by_reads: dict[int, tuple[Reads, dict[str, Any]]] = {}  # the same for each declaration of fields read
        self._encoders: dict[type[Any], Callable[[Any], bytes]] = {}

    def encoder(self, cls: type[Any]) -> Callable[[Any], bytes]:
        """An event class's stored state: every field but the stream (the row's own id) and the
        version, then ``"_v"`` (``codec.event_encoder``: cattrs' unstructuring and orjson's bytes,
        made once per class)."""
        encode = self._encoders.get(cls)
        if encode is None:
            encode = self._encoders[cls] = event_encoder(self.converter, cls)
        return encode

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.NAME,
            state=self.encoder(type(domain_event))(domain_event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.decode(stored_event.topic, stored_event.state, stored_event.originator_id, stored_event.originator_version)

    def decode(self, topic: str, state_bytes: bytes, originator_id: Any, originator_version: int) -> Any:
        """The domain event of a stored row's fields (a read of our own makes no ``StoredEvent``)."""
        return self._decode(self._by_topic, None, topic, state_bytes, originator_id, originator_version)

    def decoder(self, reads: Reads | None = None) -> Callable[[str, bytes, Any, int], Any]:
        """``decode``, or with ``reads`` (a fold's declaration of the fields it reads, by class) one
        that sets only those fields of the events of those classes (``codec.partial_decoder``)."""
        if reads is None:
            return self.decode
        found = self._by_reads.get(id(reads))
        if found is None:
            found = self._by_reads[id(reads)] = (reads, {})  # the mapping is kept: its id is not reused
        return functools.partial(self._decode, found[1], reads)

    def _decode(self, table: dict[str, Any], reads: Reads | None, topic: str, state_bytes: bytes, originator_id: Any, originator_version: int) -> Any:
        known = table.get(topic)
        if known is None:
            cls = self.registry.resolve(topic)
            names = None if reads is None else reads.get(cls)
            decoder = event_decoder(self.converter, cls) if names is None else partial_decoder(self.converter, cls, names)
            known = table[topic] = (cls, cls.VERSION, decoder)
        cls, current, structure = known
        try:
            state = orjson.loads(state_bytes)
        except orjson.JSONDecodeError as exc:
            raise EventSchemaError(f"stored event {topic} {originator_id} v{originator_version} is not valid JSON: {exc}") from exc
        version = state.pop("_v", 1)
        if version != current:
            state = self.registry.upcast(cls.NAME, state, int(version), current)
        state["originator_id"] = originator_id if isinstance(originator_id, UUID) else uuid_of(originator_id)
        state["originator_version"] = originator_version
        try:
            return structure(state, cls)
        except Exception as exc:
            raise EventSchemaError(
                f"stored event {topic} {originator_id} v{originator_version} does not fit {cls.NAME} v{cls.VERSION}: {exc}"
            ) from exc


def _check_contiguous_batch(stored: Sequence[StoredEvent]) -> None:
    """Within one append, each stream's versions must rise by one."""
    last: dict[Any, int] = {}
    for e in stored:
        before = last.get(e.originator_id)
        if before is not None and e.originator_version != before + 1:
            raise ConcurrencyError(
                f"event {e.topic} v{e.originator_version} of stream {e.originator_id} does not follow v{before} in one append; nothing was stored"
            )
        last[e.originator_id] = e.originator_version


class MemoryRecorder(POPOApplicationRecorder):
    """The library's in-memory recorder plus the databases' gap trigger (``adapters.persistence.schema``):
    an event whose previous version is not stored is refused."""

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """The library's checks (no version stored twice, none twice in the batch) and the gap
        check, in one pass: each stream's id made text once (issue 18)."""
        seen: set[tuple[str, int]] = set()
        index = self._stored_events_index
        gap = None
        for e in stored_events:
            oid = str(e.originator_id)
            v = e.originator_version
            stored = index.get(oid, ())
            if v in stored:
                raise IntegrityError(f"Stored event already recorded: {e}")
            if v > 1 and gap is None and (oid, v - 1) not in seen and (v - 1) not in stored:
                gap = f"event {oid} v{v} {GAP_MESSAGE}"
            seen.add((oid, v))
        if len(seen) < len(stored_events):
            raise IntegrityError(f"Stored events are not unique: {stored_events}")
        if gap is not None:
            raise IntegrityError(gap)


def _conflict(stored: Sequence[StoredEvent], exc: Exception) -> ConcurrencyError:
    streams = sorted({f"{e.originator_id} v{e.originator_version}" for e in stored})
    return conflict(streams, len(streams), exc)


def _integrity_errors() -> tuple[type[Exception], ...]:
    """The library's and the drivers' (a statement inside ``transaction()`` goes to the driver directly)."""
    errors: list[type[Exception]] = [IntegrityError, sqlite3.IntegrityError]
    with contextlib.suppress(ImportError):
        import psycopg

        errors.append(psycopg.IntegrityError)
    return tuple(errors)


_INTEGRITY_ERRORS = _integrity_errors()


class RecorderEventStore:
    """The EventStore port on an eventsourcing ``ApplicationRecorder``."""

    def __init__(self, recorder: ApplicationRecorder, mapper: CattrsMapper | None = None, *, url: str = "", factory: Any = None) -> None:
        self.recorder = recorder
        self.mapper = mapper or CattrsMapper()
        self.url = url
        self.factory = factory
        self._local = threading.local()  # the thread's open transaction(), if any
        self._shared: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._shared_lock = threading.Lock()

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append atomically; refused, storing nothing, unless each event follows its stream's
        stored version (no second event at a version, no gap). Inside ``transaction()`` the
        events commit with the rest of the block."""
        if not events:
            return []
        stored = [self.mapper.to_stored_event(e) for e in events]
        return self._insert(stored, bulk=False)

    def append_stored(self, stored: Sequence[StoredEvent]) -> None:
        """Append events already mapped (a list import's new contacts, mapped by its workers), in
        one transaction (or the open ``transaction()``). On PostgreSQL a large batch goes by COPY,
        under the same table lock and notification as the library's insert (ADR 0003), so
        positions still commit in order."""
        if stored and getattr(self._local, "tx", None) is None and len(stored) >= 100 and _kind(self.recorder) == "postgres":
            with self.transaction():  # the table's lock and notification, and its one COPY (ADR 0046)
                self._insert(stored, bulk=True)
        elif stored:
            self._insert(stored, bulk=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Every append this thread makes in the block commits together, or none does (a list
        import: ADR 0008). On PostgreSQL the block holds the events table's write lock, on SQLite
        the database's write lock, from its start to its end. A block inside a block joins it."""
        if getattr(self._local, "tx", None) is not None:
            yield
            return
        rec: Any = self.recorder
        kind = _kind(rec)
        try:
            if kind == "postgres":
                with rec.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                    rec._lock_table(curs)
                    rec._notify_channel(curs)
                    bulk = OpenCopy(rec, curs)  # its bulk appends' one COPY (ADR 0046)
                    self._local.tx = (kind, (curs, bulk))
                    try:
                        yield
                    except BaseException as exc:
                        bulk.abandon(exc)
                        raise
                    bulk.end(_INTEGRITY_ERRORS)
            elif kind == "sqlite":
                with rec.datastore.transaction(commit=True) as curs:
                    self._local.tx = (kind, curs)
                    yield
            else:
                buffered: list[StoredEvent] = []
                self._local.tx = (kind, buffered)
                yield
                self._local.tx = None
                self._insert(buffered, bulk=False)
        except IntegrityError as exc:  # raised at commit (a deferred check)
            raise ConcurrencyError(f"another writer appended first; nothing of this transaction was stored ({exc})") from exc
        finally:
            self._local.tx = None

    def _insert(self, stored: Sequence[StoredEvent], *, bulk: bool) -> list[int]:
        _check_contiguous_batch(stored)
        rec: Any = self.recorder
        tx = getattr(self._local, "tx", None)
        try:
            if tx is None:
                return append_postgres(rec, stored) if _kind(rec) == "postgres" else list(rec.insert_events(stored) or [])
            kind, target = tx
            if kind == "postgres":
                curs, open_copy = target
                if bulk and len(stored) >= 100:
                    open_copy.write(stored)  # PostgreSQL checks the rows when the COPY ends
                    return []
                open_copy.end(_INTEGRITY_ERRORS)  # before another statement on the connection
                rec._insert_stored_events(curs, stored)
                return list(rec._fetch_ids_after_insert_events(curs, stored) or [])
            if kind == "sqlite":
                return list(rec._insert_events(target, stored) or [])
            target.extend(stored)
            return []
        except _INTEGRITY_ERRORS as exc:
            raise _conflict(stored, exc) from exc

    def load(self, stream_id: UUID, *, up_to_version: int | None = None) -> list[DomainEvent]:
        stored = self.recorder.select_events(stream_id, lte=up_to_version)
        return [self.mapper.to_domain_event(s) for s in stored]

    def load_many(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[DomainEvent]]:
        """Several streams, one query per 500 on a database (``adapters.persistence.streams``)."""
        out: dict[UUID, list[DomainEvent]] = {}
        for s in select_streams(self.recorder, stream_ids):
            event = self.mapper.to_domain_event(s)
            out.setdefault(event.originator_id, []).append(event)
        return out

    def read(self, after: int = 0, limit: int = 1000, topics: Sequence[str] = (), reads: Reads | None = None) -> list[RecordedEvent]:
        """The log from the first position after ``after``; only the named events if ``topics``;
        only the fields ``reads`` names of the events of its classes (``CattrsMapper.decoder``)."""
        decode = self.mapper.decoder(reads)
        if _kind(self.recorder) == "postgres":  # a statement of our own: binary rows, no StoredEvent made (ADR 0036)
            return [RecordedEvent(p, decode(t, b, o, v)) for p, o, v, t, b in select_log_postgres(self.recorder, after, limit, topics)]
        notes = self.recorder.select_notifications(start=after, limit=limit, topics=topics, inclusive_of_start=False)
        return [RecordedEvent(n.id, decode(n.topic, n.state, n.originator_id, n.originator_version)) for n in notes]

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def shared(self, key: str, make: Callable[[], Any], close: Callable[[Any], None]) -> Any:
        """One ``make()`` per store (a persisted view with its connection pool), closed with the store."""
        with self._shared_lock:
            if key not in self._shared:
                obj = self._shared[key] = make()
                self._closers.append(lambda: close(obj))
            return self._shared[key]

    def on_close(self, close: Callable[[], None]) -> None:
        """Run ``close`` when the store closes, before what was registered earlier (an engine's
        queue port before its view)."""
        with self._shared_lock:
            self._closers.append(close)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
        self._shared.clear()
        if self.factory is not None:
            self.factory.close()


_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def infrastructure_env(url: str) -> dict[str, str]:
    """Translate ``DIALER_DATABASE_URL`` into the library's environment for its factory. A bad URL
    gives a ValueError naming what is wrong, with any password left out."""
    try:
        return _infrastructure_env(url)
    except ValueError as exc:
        raise ValueError(str(exc).replace(url, redact(url)).replace(repr(url), repr(redact(url)))) from None


def _infrastructure_env(url: str) -> dict[str, str]:
    if url in ("memory:", "memory://"):
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if parsed.netloc:
            raise ValueError(f"sqlite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute/path.db")
        if not path:
            raise ValueError(f"sqlite URL {url!r} names no file")
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "SQLITE_LOCK_TIMEOUT": "10"}
    if parsed.scheme in ("postgresql", "postgres"):
        dbname = parsed.path.lstrip("/")
        if not dbname:
            raise ValueError(f"postgresql URL {url!r} names no database")
        try:
            port = parsed.port or 5432
        except ValueError:
            raise ValueError(f"postgresql URL {url!r}: the port is not a number from 1 to 65535") from None
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(query) - {"host", "schema"}
        if unknown:
            raise ValueError(f"postgresql URL {url!r}: unsupported parameter(s) {', '.join(sorted(unknown))} (host, schema)")
        schema = query.get("schema", "")
        if schema and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"postgresql URL {url!r}: schema {schema!r} is not a plain name (letters, digits and _, at most 63)")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(dbname),
            "POSTGRES_HOST": query.get("host") or parsed.hostname or "127.0.0.1",
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_PORT": str(port),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            # one connection at first, up to 15: a process has a pool per store and per view (ADR 0010)
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "14",
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_LOCK_TIMEOUT": "5",
            # The default insert path takes a table lock so that positions commit in order and a
            # reader never skips an event that commits late. Keep it: see ADR 0003.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
        }
    raise ValueError(f"unsupported DIALER_DATABASE_URL {url!r}: use memory:, sqlite:///FILE or postgresql://USER@HOST:PORT/DB[?schema=S]")


def open_factory(url: str) -> InfrastructureFactory[Any]:
    """The library's factory for that URL; tables are created by ``ensure_event_schema`` and the
    views' own set-up, under the schema lock, never by the factory. On SQLite its connections keep
    their statements prepared (``sqlite_pool``, ADR 0042)."""
    return with_statement_cache(InfrastructureFactory.construct(env={**infrastructure_env(url), "CREATE_TABLE": "no"}))


def open_event_store(url: str = DEFAULT_DATABASE_URL, registry: EventRegistry | None = None) -> RecorderEventStore:
    factory = open_factory(url)
    try:
        recorder = MemoryRecorder() if url in ("memory:", "memory://") else factory.application_recorder()
        ensure_event_schema(recorder)
    except BaseException:
        factory.close()
        raise
    return RecorderEventStore(recorder, CattrsMapper(registry), url=url, factory=factory)
