"""Reading a contact list file, strictly: every problem is refused with the line it starts on.

* The encoding is UTF-8 (a byte-order mark is allowed once) unless another is declared
  (``cp1252``, ``latin-1`` ... as spreadsheets export); a byte that does not decode names its
  line and column.
* The header must name each column once, with no control characters, stray byte-order marks or
  line separators (a file whose lines end in NEL or U+2028 reads as one header line: refused).
* A row that runs over several lines (a quoted field with a line break, or a quote never closed)
  is rejected with its first line; so is a row with more fields than the header. Quotes are read
  strictly: ``"a"b`` is an error, not ``ab``.
* The rejects file neutralises cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.text import check_text
from dialer_domain.model.values import ListMapping

#: The key under which ``read_rows`` puts why it could not read a row (no header name is None).
ROW_ERROR = None

Row = dict[str | None, str]


def read_rows(path: Path, mapping: ListMapping, encoding: str = "utf-8") -> Iterator[tuple[int, Row]]:
    """(first line of the row, row) from a CSV file; the header is line 1. A row that could not be
    read carries its reason under ``ROW_ERROR``."""
    codec = _codec(encoding)
    with open(path, encoding="utf-8-sig" if codec == "utf-8" else codec, newline="") as fh:
        reader = csv.reader(fh, delimiter=mapping.delimiter, strict=True)
        last = 0
        try:
            header = next(reader, None)
            if header is None:
                raise InvalidValue(f"{path.name} is empty: it has no header line")
            if reader.line_num != 1:
                raise InvalidValue(f"{path.name} line 1: the header runs over {reader.line_num} lines (a quoted column name holds a line break)")
            names = check_header(path.name, header, mapping)
            last = reader.line_num
            for fields in reader:
                start, last = last + 1, reader.line_num
                if not fields:
                    continue  # a blank line
                if last > start:
                    yield start, {ROW_ERROR: f"the row runs over lines {start}-{last}: a quoted field holds a line break, or a quote is not closed"}
                elif len(fields) > len(names):
                    yield start, {ROW_ERROR: f"{len(fields) - len(names)} more field(s) than the header has"}
                else:
                    yield start, dict(zip(names, fields, strict=False))
        except UnicodeDecodeError:
            raise InvalidValue(
                f"{path.name} is not {codec.upper()} text ({first_undecodable(path, codec)}); "
                "if it is in another encoding (a spreadsheet's export is often cp1252), declare it"
            ) from None
        except csv.Error as exc:
            raise InvalidValue(f"{path.name} line {last + 1}: {exc}") from None


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidValue(f"unknown encoding {encoding!r} (try utf-8, cp1252, latin-1, utf-16)") from None


def check_header(file_name: str, header: Sequence[str], mapping: ListMapping) -> list[str]:
    names = list(header)
    if names and names[0].startswith("\ufeff"):
        raise InvalidValue(f"{file_name} line 1: the file starts with a second byte-order mark; save it again as UTF-8")
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        if "\u0085" in name or "\u2028" in name or "\u2029" in name:
            raise InvalidValue(f"{file_name} line 1: the header holds a NEL or Unicode line separator; lines must end in LF or CR LF")
        check_text(f"{file_name} line 1: column {i} of the header", name, 200, allow_empty=False)
        if name in seen:
            raise InvalidValue(f"{file_name} line 1: the header names column {name!r} twice (columns {seen[name]} and {i})")
        seen[name] = i
    missing = [c for c in (mapping.key, *mapping.phones) if c not in seen]
    if missing:
        raise InvalidValue(f"{file_name}: the header has no column {', '.join(missing)} (it has {', '.join(names)})")
    return names


def first_undecodable(path: Path, codec: str) -> str:
    """Where a file stops being text in that encoding: 'line L, column C: byte 0xXX'."""
    decoder = codecs.getincrementaldecoder(codec)()
    line = 1
    with open(path, "rb") as fh:
        for raw in fh:  # lines end in LF, which is never inside a multi-byte character
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                return f"line {line}, column {exc.start + 1}: byte 0x{raw[exc.start]:02x} ({exc.reason})"
            line += 1
    return f"line {line}: the file ends inside a character"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice)."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def write_rejects(path: Path, rejects: Sequence[tuple[int, str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "key", "reason"])
        w.writerows((line, spreadsheet_safe(key), spreadsheet_safe(reason)) for line, key, reason in rejects)
