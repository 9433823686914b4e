"""The drop folder (the seed's FTP pickup): each file imported once, when it has stopped changing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from adapters.lists.importer import ImportRejected
from dialer_domain.model.errors import DomainError
from dialer_domain.model.values import ImportMode
from dialer_domain.service_layer.handlers import ImportReport

# ---------------------------------------------------------------------- drop folder and assignment


def process_drop_folder(
    folder: Path,
    run_import: Callable[[Path], tuple[ImportReport, list[tuple[int, str, str]]]],
    *,
    settle_seconds: float = 5.0,
    done_marker: str | None = None,
    now: float | None = None,
) -> Iterator[tuple[Path, str]]:
    """Import each *.csv in the folder once, then move it to processed/ or failed/ with its report.
    A file still being written is left for a later look: with ``done_marker`` (say ``.done``) until
    ``FILE.csv.done`` appears (removed once the file is imported); otherwise until it has not
    changed for ``settle_seconds``."""
    import time

    done, failed = folder / "processed", folder / "failed"
    done.mkdir(exist_ok=True)
    failed.mkdir(exist_ok=True)
    now = time.time() if now is None else now
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
        marker = path.with_name(path.name + done_marker) if done_marker else None
        if marker is not None and not marker.exists():
            yield path, f"waiting for {marker.name}"
            continue
        age = now - path.stat().st_mtime
        if marker is None and age < settle_seconds:
            yield path, f"waiting: changed {age:.1f} s ago (a file is picked up once unchanged for {settle_seconds:g} s)"
            continue
        target = done
        try:
            report, rejects = run_import(path)
            outcome = {"imported": attrs.asdict(report, value_serializer=_plain), "rejects": rejects}
            text = f"imported: {report.added} added, {report.updated} updated, {report.withdrawn} withdrawn, {len(rejects)} rejected"
        except ImportRejected as exc:
            target = failed
            outcome = {"error": str(exc), "rejects": exc.rejects}
            text = f"failed: {exc}"
        except (DomainError, ValueError, OSError) as exc:
            target = failed
            outcome = {"error": str(exc)}
            text = f"failed: {exc}"
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        dest = target / f"{path.stem}.{stamp}{path.suffix}"
        path.rename(dest)
        dest.with_suffix(".report.json").write_text(json.dumps(outcome, indent=2, default=str), encoding="utf-8")
        if marker is not None:
            marker.unlink(missing_ok=True)
        yield path, text


def _plain(_: object, __: object, value: Any) -> Any:
    return value.value if isinstance(value, ImportMode) else value
