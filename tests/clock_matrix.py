"""The clock points tests/clock_matrix.sh runs the clock-sensitive tests at.

Hours where "today" and "N days ago" go wrong in the team's zone
(Europe/Berlin): just after midnight, morning, either side of noon, late
evening; on the next last Sunday of March and of October (the DST changes:
a 23-hour and a 25-hour day) and the next 31 December. The next ones, not
fixed dates: a clock in the past would make the browser drop the session
cookies Django sets relative to the faked now.

Prints one ISO instant with its offset per line."""

from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = [time(0, 30), time(6, 0), time(11, 59), time(12, 1), time(23, 30)]


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def next_days(today: date) -> list[date]:
    days = []
    for pick in (
        lambda y: last_sunday(y, 3),
        lambda y: last_sunday(y, 10),
        lambda y: date(y, 12, 31),
    ):
        day = pick(today.year)
        days.append(day if day > today else pick(today.year + 1))
    return days


def points(today: date) -> list[str]:
    return [
        datetime.combine(day, at, tzinfo=BERLIN).isoformat(timespec="minutes")
        for day in next_days(today)
        for at in HOURS
    ]


if __name__ == "__main__":
    today = date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else date.today()
    print("\n".join(points(today)))
