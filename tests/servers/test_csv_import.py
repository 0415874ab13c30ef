"""CSV import of servers: preview with row errors, all-or-nothing, or only the good rows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from servers.models import Server
from tests import factories

pytestmark = pytest.mark.django_db

GOOD = (
    "hostname,environment,tags,os,criticality,owner\n"
    "web-01,production,web;eu,Debian 12,high,{email}\n"
    "db-01,staging,,Rocky Linux 9.3,low,\n"
)
MIXED = GOOD + "bad host,nowhere,,,,stranger@example.test\n"


def _upload(text):
    return SimpleUploadedFile("servers.csv", text.encode(), content_type="text/csv")


def test_preview_lists_every_row_with_its_errors(client_for, planner):
    response = client_for(planner).post(
        reverse("server_csv_import"),
        {"file": _upload(MIXED.format(email=planner.email)), "step": "preview"},
    )
    rows = response.context["rows"]
    assert [r.ok for r in rows] == [True, True, False]
    errors = " ".join(rows[2].errors)
    assert "not a valid hostname" in errors and "unknown environment" in errors
    assert "not a team member" in errors
    assert not Server.objects.exists()  # a preview writes nothing


def test_import_of_a_good_file_creates_every_server(client_for, planner, team):
    client = client_for(planner)
    response = client.post(
        reverse("server_csv_import"),
        {"content": GOOD.format(email=planner.email), "step": "import"},
    )
    assert response.status_code == 302
    web = Server.objects.get(team=team, hostname="web-01")
    assert (web.environment, web.criticality, web.os_name, web.os_version, web.owner) == (
        "production",
        "high",
        "Debian",
        "12",
        planner,
    )
    assert set(web.tags.values_list("name", flat=True)) == {"web", "eu"}
    assert Server.objects.get(hostname="db-01").os_name == "Rocky Linux"


def test_a_file_with_a_bad_row_imports_nothing(client_for, planner):
    response = client_for(planner).post(
        reverse("server_csv_import"),
        {"content": MIXED.format(email=planner.email), "step": "import"},
    )
    assert response.status_code == 400
    assert "nothing was imported" in response.content.decode()
    assert not Server.objects.exists()


def test_only_the_good_rows_when_asked(client_for, planner, team):
    response = client_for(planner).post(
        reverse("server_csv_import"),
        {"content": MIXED.format(email=planner.email), "step": "import", "only_valid": "on"},
    )
    assert response.status_code == 302
    assert set(Server.objects.values_list("hostname", flat=True)) == {"web-01", "db-01"}


def test_existing_and_repeated_hostnames_are_row_errors(client_for, planner, team):
    factories.ServerFactory(team=team, hostname="web-01")
    text = "hostname\nweb-01\ndb-01\ndb-01\n"
    rows = (
        client_for(planner)
        .post(reverse("server_csv_import"), {"file": _upload(text), "step": "preview"})
        .context["rows"]
    )
    assert "already exists" in rows[0].errors[0]
    assert rows[1].ok and "repeats line 3" in rows[2].errors[0]


def test_a_file_without_a_hostname_column_is_refused(client_for, planner):
    response = client_for(planner).post(
        reverse("server_csv_import"), {"file": _upload("name,env\nx,y\n"), "step": "preview"}
    )
    assert response.status_code == 400 and "hostname" in response.content.decode()


def test_a_viewer_may_not_import_servers(client_for, viewer):
    response = client_for(viewer).post(
        reverse("server_csv_import"), {"content": "hostname\nweb-01\n", "step": "import"}
    )
    assert response.status_code == 403 and not Server.objects.exists()


def test_outsider_imports_into_their_own_team_only(client_for, outsider, other_team, team):
    client_for(outsider).post(
        reverse("server_csv_import"), {"content": "hostname\nweb-01\n", "step": "import"}
    )
    assert not Server.objects.filter(team=team).exists()
    assert Server.objects.filter(team=other_team, hostname="web-01").exists()


def test_a_line_break_in_a_quoted_os_cell_is_a_row_error(client_for, planner):
    text = 'hostname,os\nweb-01,"Debian\r\nBcc: x@evil.example"\n'
    response = client_for(planner).post(
        reverse("server_csv_import"), {"file": _upload(text), "step": "preview"}
    )
    (row,) = response.context["rows"]
    assert not row.ok and "the OS must be one line of text" in row.errors
