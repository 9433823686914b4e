"""Contact list files (R7-R10): CSV in, validated rows out, applied as events by the core's
``import_list``.

* UTF-8 with or without BOM; the delimiter is declared in the campaign's list mapping.
* Every number parsed and normalised to E.164 by phonenumbers with the campaign's default region;
  invalid or impossible numbers reject the row; a number repeated within a row is dropped and
  reported; a key repeated within the file is a duplicate (the first occurrence wins).
* By default a file with any rejected row imports nothing and says why, row by row; with
  ``skip_invalid`` the good rows are imported and the rejects written to a CSV beside the file.
* Memory stays flat: rows stream; validated rows wait in a temporary file between the checking pass
  and the writing pass; keys (the list's and the file's) are kept in a temporary SQLite database.
  Number validation runs in worker processes for large files.
* An import is one unit (ADR 0008): the writing pass, its contacts and its history record, commits
  in one transaction, so a crash or a conflict leaves nothing of it. The temporary files are unlinked
  while open, and the workers die with their parent, so a SIGKILL leaves nothing behind either.
"""

from adapters.lists.dropfolder import process_drop_folder
from adapters.lists.files import read_rows
from adapters.lists.importer import ImportRejected, import_file
from adapters.lists.rows import RowChecker, validate_row

__all__ = ["ImportRejected", "RowChecker", "import_file", "process_drop_folder", "read_rows", "validate_row"]
