"""Every odd CSV the data-integrity probe found is refused or handled, naming the line it starts on."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import lists
from adapters.lists.files import ROW_ERROR, read_rows, spreadsheet_safe
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import ImportMode, ListMapping
from tests.integration.test_lists import HEADER, NOW, open_sales_store

MAPPING = ListMapping(key="id", phones=("phone", "mobile"), name="name", priority="prio", delimiter=";")


def rows(tmp_path: Path, text: str | bytes, encoding: str = "utf-8"):
    p = tmp_path / "list.csv"
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return list(read_rows(p, MAPPING, encoding))


def test_an_unclosed_quote_refuses_the_file_at_the_line_it_opens(tmp_path):
    """It once swallowed the next row (3 rows reported for 4)."""
    with pytest.raises(InvalidValue, match=r"list.csv line 3: ';' expected after '\"'"):
        rows(tmp_path, HEADER + '\n1;Ann;20123456;;3;X\n2;"Bo;31234567;;5;Y\n3;Cy;40112233;;5;Z\n4;Di;20123457;;5;"W"\n')


def test_a_row_running_over_several_lines_is_rejected_with_its_first_line(tmp_path):
    got = rows(tmp_path, HEADER + '\n1;Ann;20123456;;3;X\n2;"Bo\nBo";31234567;;5;Y\n3;Cy;40112233;;5;Z\n')
    assert [ln for ln, _ in got] == [2, 3, 5]
    assert got[1][1][ROW_ERROR].startswith("the row runs over lines 3-4")


def test_an_unclosed_quote_at_the_end_of_the_file_names_its_line(tmp_path):
    with pytest.raises(InvalidValue, match=r"list.csv line 3: unexpected end of data"):
        rows(tmp_path, HEADER + '\n1;Ann;20123456;;3;X\n2;"Bo;31234567;;5;Y\n')


def test_a_column_named_twice_is_refused(tmp_path):
    with pytest.raises(InvalidValue, match=r"names column 'mobile' twice \(columns 4 and 5\)"):
        rows(tmp_path, "id;name;phone;mobile;mobile\n1;Ann;20123456;31234567;40112233\n")
    with pytest.raises(InvalidValue, match=r"names column 'id' twice"):
        rows(tmp_path, "id;name;phone;mobile;id\n1;Ann;20123456;31234567;2\n")


@pytest.mark.parametrize("sep", ["\u0085", "\u2028"])
def test_a_file_whose_lines_end_in_nel_or_a_line_separator_is_refused(tmp_path, sep):
    with pytest.raises(InvalidValue, match="NEL or Unicode line separator"):
        rows(tmp_path, sep.join([HEADER, "1;Ann;20123456;;3;X", "2;Bo;31234567;;5;Y"]) + sep)


def test_internal_marker_names_are_ordinary_columns(tmp_path):
    mapping_free = "id;name;phone;mobile;__error__;__extra__\n1;Ann;20123456;;a;b\n"
    [(line, row)] = rows(tmp_path, mapping_free)
    assert line == 2 and ROW_ERROR not in row and row["__error__"] == "a" and row["__extra__"] == "b"


def test_a_doubled_byte_order_mark_and_control_characters_in_the_header_are_named(tmp_path):
    with pytest.raises(InvalidValue, match="starts with a second byte-order mark"):
        rows(tmp_path, b"\xef\xbb\xbf\xef\xbb\xbf" + HEADER.encode() + b"\n1;Ann;20123456;;3;X\n")
    with pytest.raises(InvalidValue, match=r"column 2 of the header contains the control character U\+0000"):
        rows(tmp_path, "id;na\0me;phone;mobile\n1;Ann;20123456;\n")


def test_a_bad_byte_and_an_oversize_field_name_their_own_lines(tmp_path):
    body = "\n".join(f"{i};N{i};2012{i:04d};;5;x" for i in range(1, 5002))
    data = (HEADER + "\n" + body + "\n").encode().replace(b"N5001;", b"N\xff5001;")
    with pytest.raises(InvalidValue, match=r"not UTF-8 text \(line 5002, column 7: byte 0xff"):
        rows(tmp_path, data)
    big = HEADER + "\n1;Ann;20123456;;3;X\n2;" + "x" * 200_000 + ";31234567;;5;Y\n"
    with pytest.raises(InvalidValue, match=r"list.csv line 3: field larger than field limit"):
        rows(tmp_path, big)


def test_a_declared_encoding_is_read_and_a_wrong_one_is_said(tmp_path):
    data = (HEADER + "\n1;Åse;20123456;;3;X\n").encode("cp1252")
    [(_, row)] = rows(tmp_path, data, "cp1252")
    assert row["name"] == "Åse"
    with pytest.raises(InvalidValue, match="declare it"):
        rows(tmp_path, data)
    with pytest.raises(InvalidValue, match="unknown encoding 'klingon'"):
        rows(tmp_path, data, "klingon")


@pytest.fixture
def store(tmp_path):
    s = open_sales_store(f"sqlite:///{tmp_path}/lists.db")
    yield s
    s.close()


def test_extensions_are_refused_and_rejects_are_safe_in_a_spreadsheet(store, tmp_path):
    p = tmp_path / "ext.csv"
    p.write_text(HEADER + '\n1;Ann;"20123456;ext=12";;3;X\n2;Bo;20123457 ext. 12;;5;Y\n=cmd|x;Cy;12;;5;Z\n3;Di;20123458;;5;W\n', encoding="utf-8")
    report, rejects = lists.import_file(
        store, campaign_id_for("Sales"), p, mode=ImportMode.APPEND, at=NOW, ids=uuid4, skip_invalid=True, rejects_path=tmp_path / "r.csv"
    )
    assert report.added == 1 and [ln for ln, _, _ in rejects] == [2, 3, 4]
    assert "extension (12)" in rejects[0][2] and "extension (12)" in rejects[1][2]
    written = list(csv.reader((tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()))
    assert written[3][1] == "'=cmd|x"
    assert spreadsheet_safe("+45") == "'+45" and spreadsheet_safe("Ann") == "Ann" and spreadsheet_safe(3) == 3


_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
_WORD = _TEXT.filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(key=_WORD, name=_TEXT, variables=st.dictionaries(_WORD, _TEXT, max_size=4), agent=st.none() | _WORD)
def test_a_spooled_row_reads_back_as_it_was_checked(key, name, variables, agent):
    """The import's spool line (tab-separated, its parts JSON): line, key, the new contact's id and
    state come back as written, and the whole row, read from the state only when asked for, equals
    the checked row."""
    from adapters.lists.rows import Prepare, prepared_state, spool_line, spooled
    from adapters.persistence.eventstore import CattrsMapper
    from dialer_domain.model.identities import contact_id_for
    from dialer_domain.model.values import ContactData, PhoneNumber
    from dialer_domain.service_layer.handlers import ImportRow

    row = ImportRow(7, key, (PhoneNumber("+4520123456", "mobile"),), ContactData(name=name, variables=variables), 3, agent)
    prep = Prepare(campaign_id_for("Sales"), "import:x", NOW)
    contact_id, state = prepared_state(prep, row)
    back = spooled(spool_line(7, key, contact_id, state) + "\n", CattrsMapper())
    assert (back.line, back.key, back.contact_id, back.prepared) == (7, key, contact_id_for(prep.campaign_id, key), state)
    assert back.whole() == row


def test_a_short_row_names_the_columns_it_lacks_and_a_repeated_number_is_kept_once():
    with pytest.raises(InvalidValue, match=r"^missing column\(s\) phone, mobile$"):
        lists.validate_row(MAPPING, "DK", 2, {"id": "1", "name": "Ann"})
    with pytest.raises(InvalidValue, match=r"^missing column\(s\) mobile$"):
        lists.validate_row(MAPPING, "DK", 2, {"id": "1", "phone": "20123456"})
    row = lists.validate_row(MAPPING, "DK", 2, {"id": "1", "phone": "20 12 34 56", "mobile": "+4520123456"})
    assert [(n.e164, n.label) for n in row.numbers] == [("+4520123456", "phone")]


def test_a_key_repeated_in_a_later_chunk_of_the_file_is_rejected_with_its_line(tmp_path):
    from adapters.lists.rows import CHUNK
    from tests.integration.test_import_atomicity import write_list

    s = open_sales_store("memory:")
    path = write_list(tmp_path / "big.csv", range(CHUNK + 5))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("c3;Again;+4520100003;;5;x\nc4;Again;+4520100004;;5;x\n")
    with pytest.raises(lists.ImportRejected) as exc:
        lists.import_file(s, campaign_id_for("Sales"), path, mode=ImportMode.APPEND, at=NOW, ids=uuid4, workers=2)
    assert [(line, key) for line, key, _ in exc.value.rejects] == [(CHUNK + 7, "c3"), (CHUNK + 8, "c4")]
    assert exc.value.report.duplicates == 2 and exc.value.report.accepted == CHUNK + 5
