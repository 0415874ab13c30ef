#!/usr/bin/env bash
# Runs the tests of what reads the clock (reports, calendar, dashboard, checks
# and off-peak, readiness, timeline, plan list, tasks overdue, window
# suggestions, the notification scans, feeds and reminder emails, server
# staleness, invitations) with the whole test process travelled to each of the
# clock points of tests/clock_matrix.py (time-machine, via PATCHPLAN_TEST_CLOCK
# in tests/conftest.py). CLOCK_JOBS points run at once (default 2), each
# with a database of its own. Extra arguments go to pytest.
#
#   tests/clock_matrix.sh                 # every point
#   CLOCK_POINTS="2026-12-31T00:30+01:00" tests/clock_matrix.sh -x
#
# The fault tests (tests/notifications/test_faults.py) start Celery workers in
# subprocesses, which keep the real clock: not in the list. The browser flows
# that pass the gates (run mode, go, windows starting) run at one of the
# points (`make test-clock-browser` runs them with CLOCK_MODULES and CLOCK_POINTS):
# their live server is travelled; Chromium keeps its own clock, which the pages
# use only for refresh timers.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
JOBS="${CLOCK_JOBS:-2}"
# The tests whose code under test reads the clock for a date, an hour or an
# age ("today", "N days ago", "in 24 h", off-peak hours, overdue, stale, the
# period a report covers, reminders), or whose fixtures place things relative
# to now (WindowFactory: tomorrow at this hour). Left out for cost: modules that
# only stamp times (audit, log, evidence and execution "not in the future",
# sign-offs), the seed_demo tests, browser and fault tests (see above).
MODULES=(
  tests/reports/test_reports.py
  tests/core/test_calendar.py
  tests/core/test_dashboard.py
  tests/plans/test_checks.py
  tests/plans/test_readiness.py
  tests/plans/test_timeline.py
  tests/plans/test_plan_list.py
  tests/plans/test_tasks.py
  tests/plans/test_suggest.py
  tests/notifications/test_scan.py
  tests/notifications/test_views.py
  "tests/notifications/test_delivery.py::test_reminder_email_arrives_with_both_parts_and_ics_in_recipient_zone"
  "tests/notifications/test_delivery.py::test_reminder_across_midnight_has_dates"
  "tests/servers/test_views.py::test_list_filters_by_environment_security_tag_and_search"
  tests/teams/test_invitations.py
)
# Query budgets and concurrency tests in those modules assert counts and races,
# not dates: left out (they are most of the modules' time).
SKIP="not queries and not query_count and not two_scans"
# CLOCK_MODULES="tests/reports ..." runs those instead.
if [ -n "${CLOCK_MODULES:-}" ]; then read -r -a MODULES <<<"$CLOCK_MODULES"; fi
DB_BASE="${DATABASE_URL:-}"
if [ -n "${CLOCK_POINTS:-}" ]; then
  mapfile -t POINTS < <(tr ' ' '\n' <<<"$CLOCK_POINTS" | grep .)
else
  mapfile -t POINTS < <("$PY" tests/clock_matrix.py)
fi
OUT="${PATCHPLAN_VAR_DIR:-var/test}/clock-matrix"
rm -rf "$OUT" && mkdir -p "$OUT"

run_point() {
  local i="$1" clock="$2" slot="$3" first="$4" db=""
  # A database per slot (pytest-django prefixes test_), created by the slot's
  # first point and reused by the next ones: the points of a slot run in turn.
  if [ -n "$DB_BASE" ]; then db="${DB_BASE%/*}/$(basename "${DB_BASE%%\?*}")_clock$slot"; fi
  if DATABASE_URL="${db:-$DB_BASE}" PATCHPLAN_TEST_CLOCK="$clock" \
    PATCHPLAN_VAR_DIR="$OUT/$i" "$PY" -m pytest -q -p no:cacheprovider \
    "$([ "$first" = 1 ] && echo --create-db || echo --reuse-db)" \
    -k "$SKIP" "${MODULES[@]}" "${@:5}" >"$OUT/$i.log" 2>&1; then
    echo "ok    $clock  $(tail -n 1 "$OUT/$i.log")"
  else
    echo "FAIL  $clock  $(tail -n 1 "$OUT/$i.log")"
    grep -E "^(FAILED|ERROR) " "$OUT/$i.log" | sed 's/^/        /'
    return 1
  fi
}

run_slot() {
  local slot="$1" status=0 first=1
  shift
  for i in "${!POINTS[@]}"; do
    [ $((i % JOBS)) -eq "$slot" ] || continue
    run_point "$i" "${POINTS[$i]}" "$slot" "$first" "$@" >"$OUT/$i.summary" || status=1
    first=0
  done
  return "$status"
}

status=0
pids=()
for slot in $(seq 0 $((JOBS - 1))); do
  run_slot "$slot" "$@" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for i in "${!POINTS[@]}"; do cat "$OUT/$i.summary"; done
if [ "$status" -eq 0 ]; then echo "clock matrix: every point passed"; else echo "clock matrix: failures above"; fi
exit "$status"
