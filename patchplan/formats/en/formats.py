"""Date formats, set once for every page (Django's English defaults read "Jan. 11, 2027"
in one place and "11 Jan 2027" in another). Templates that write {{ d|date }} or
{{ d|date:"DATE_FORMAT" }} get these; a template may still spell out a format where a
column needs it (e.g. "D j M" in the calendar)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "F Y"
TIME_FORMAT = "H:i"
