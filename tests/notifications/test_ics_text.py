"""The words of a window's calendar event and the dates of its emails: as the pages
write them ("1 server", "2 servers"; "Fri 4 Dec", not "Fri 04 Dec")."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from patchplan.formats.dates import day, local, moment
from plans.notify.calendars import WindowFacts, window_ics

START = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def facts(servers: int) -> WindowFacts:
    return WindowFacts(
        id=7,
        title="Night run",
        plan_title="openssl security patch",
        plan_id=3,
        starts_at=START,
        ends_at=START.replace(hour=3),
        sequence=0,
        server_count=servers,
        cancelled=False,
        owner_name="Pat Planner",
        owner_email="pat@example.test",
    )


@pytest.mark.parametrize(("n", "words"), [(1, "1 server."), (2, "2 servers."), (0, "0 servers.")])
def test_the_event_description_counts_servers_in_words(n, words):
    (event,) = Calendar.from_ical(window_ics(facts(n))).walk("VEVENT")
    assert str(event["description"]).startswith(f"openssl security patch: {words} ")
    assert "server(s)" not in str(event["description"])


def test_dates_read_as_on_the_pages():
    berlin = ZoneInfo("Europe/Berlin")
    assert day(date(2026, 12, 4)) == "Fri 4 Dec 2026"
    assert day(START, tz=berlin) == "Fri 4 Dec 2026"
    assert local(START, "D j M H:i T", tz=berlin) == "Fri 4 Dec 02:00 CET"
    assert moment(START, tz=berlin) == "Fri 4 Dec 2026, 02:00 Europe/Berlin"
