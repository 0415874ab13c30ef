import csv
import io

from patchplan.core.csv_export import csv_cell, csv_response


def _rows(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_cells_a_spreadsheet_would_run_as_formulas_are_made_text():
    response = csv_response(
        "x.csv",
        ["a", "b", "c", "d"],
        [['=HYPERLINK("http://evil")', "+1+1", "@SUM(A1)", "-2+3"], ["web-01", 5, -3, "1:2.0-1"]],
    )
    header, hostile, plain = _rows(response)
    assert header == ["a", "b", "c", "d"]
    assert hostile == ['\'=HYPERLINK("http://evil")', "'+1+1", "'@SUM(A1)", "'-2+3"]
    # Numbers and ordinary text are left as they are.
    assert plain == ["web-01", "5", "-3", "1:2.0-1"]


def test_the_filename_cannot_break_the_header():
    response = csv_response('fleet-"a\r\nb.csv', ["h"], [])
    assert response["Content-Disposition"] == 'attachment; filename="fleet-ab.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_csv_cell_leaves_non_text_alone():
    assert csv_cell(None) is None
    assert csv_cell(-1) == -1
