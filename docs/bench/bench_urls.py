"""The product's URLs plus /bench/bare/: the ceiling the benchmark compares pages with, a
Django view that reads 50 servers from PostgreSQL and renders them with a plain template
loop (login required, so it pays for the session and user like every page)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from servers.models import Server

BARE = engines["django"].from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Servers</title>
<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap.min.css"></head>
<body><main class="container"><h1>Servers</h1><table class="table table-sm"><thead><tr>
<th>Hostname</th><th>Environment</th><th>Criticality</th><th>OS</th><th>Packages</th>
<th>Pending</th><th>Last inventory</th></tr></thead><tbody>
{% for s in servers %}<tr><td><a href="/servers/{{ s.pk }}/">{{ s.hostname }}</a></td>
<td><span class="badge">{{ s.environment }}</span></td><td>{{ s.criticality }}</td>
<td>{{ s.os_name }} {{ s.os_version }}</td><td>{{ s.package_count }}</td>
<td>{{ s.pending_updates }} ({{ s.pending_security }})</td>
<td>{{ s.last_inventory_at|date:"Y-m-d H:i" }}</td></tr>
{% endfor %}</tbody></table></main></body></html>"""
)


@login_required
def bare(request):
    servers = Server.objects.filter(team__memberships__user=request.user).order_by("hostname")[:50]
    return HttpResponse(BARE.render({"servers": servers}, request))


urlpatterns = [path("bench/bare/", bare), path("", include("patchplan.urls"))]
