"""Across the whole URL conf: every unsafe request without a CSRF token is
refused and changes nothing, and no GET changes anything."""

import pytest
from django.test import Client
from django.urls import URLPattern

from tests.teams.test_access import OBJECT_KWARGS, _db_state, _walk

# Views that take no cookies and so need no CSRF token, with the reason.
CSRF_EXEMPT = {
    "api_inventory_push": "bearer-token API for hosts; no session cookie is accepted",
}


def _all_urls(world):
    from django.urls import get_resolver

    urls = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("admin/") or not isinstance(pattern, URLPattern):
            continue
        path = route
        for name in pattern.pattern.converters:
            start, end = path.index("<"), path.index(">")
            value = OBJECT_KWARGS[name](world) if name in OBJECT_KWARGS else "x"
            path = path[:start] + str(value) + path[end + 1 :]
        urls.append(("/" + path.lstrip("^").rstrip("$"), pattern.name))
    return urls


@pytest.mark.django_db
def test_unsafe_requests_without_a_csrf_token_are_refused(world, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    failures = []
    for url, name in _all_urls(world):
        if name in CSRF_EXEMPT:
            continue
        for method in ("post", "put", "patch", "delete"):
            before = _db_state()
            response = getattr(client, method)(url, HTTP_HX_REQUEST="true")
            if response.status_code not in (403, 405):
                failures.append(f"{method.upper()} {url} ({name}): {response.status_code}")
            if _db_state() != before:
                failures.append(f"{method.upper()} {url} ({name}) changed the database")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_no_get_changes_anything(world, admin):
    client = Client()
    client.force_login(admin)
    client.get("/")  # the session row exists before the walk
    failures = []
    for url, name in _all_urls(world):
        before = _db_state()
        response = client.get(url)
        if response.status_code >= 500:
            failures.append(f"GET {url} ({name}): {response.status_code}")
        # Every HTML page and partial carries the CSP (no inline scripts, no framing).
        if response.get("Content-Type", "").startswith("text/html"):
            csp = response.get("Content-Security-Policy", "")
            if "frame-ancestors 'none'" not in csp or "script-src 'self'" not in csp:
                failures.append(f"GET {url} ({name}): CSP missing or weak: {csp!r}")
            if response.get("X-Frame-Options") != "DENY":
                failures.append(f"GET {url} ({name}): no X-Frame-Options DENY")
        if _db_state() != before:
            failures.append(f"GET {url} ({name}) changed the database")
    assert not failures, "\n".join(failures)
