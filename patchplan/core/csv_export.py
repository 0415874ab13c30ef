"""CSV downloads: one way to write them, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse

from .text import CONTROL_CHARACTERS

# A cell starting with one of these is run as a formula by spreadsheets
# (CSV injection); a leading apostrophe makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """The value, with text that a spreadsheet would run as a formula made inert."""
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    """An attachment named `filename` with the header row and then `rows`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    # No control character (CR, LF, NUL...) may reach the header.
    safe_name = CONTROL_CHARACTERS.sub("", filename).replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow(csv_cell(value) for value in row)
    return response
