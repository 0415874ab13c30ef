"""Template tags of the server pages.

``{% server_row server selectable %}`` renders one row of the server list in
Python: at 50 rows a page the template engine's per-variable lookups were most
of the page's time. Every user-supplied value goes through format_html/escape.
"""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from servers.models import Server

register = template.Library()


def _when(value) -> str:
    if value is None:
        return '<span class="text-body-secondary">never</span>'
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@register.simple_tag
def server_row(server: Server, selectable: bool) -> SafeString:
    """One <tr> of the server list (the tags must be prefetched into ``tag_list``)."""
    select = (
        format_html(
            '<td><input type="checkbox" class="form-check-input" name="ids" value="{}" '
            'form="bulk" aria-label="Select {}"></td>',
            server.pk,
            server.hostname,
        )
        if selectable
        else ""
    )
    tags = format_html_join(
        "",
        '<span class="badge text-bg-light border me-1">{}</span>',
        ((t.name,) for t in server.tag_list),
    )
    security = (
        format_html(
            ' <span class="badge text-bg-danger">{} security</span>', server.pending_security
        )
        if server.pending_security
        else ""
    )
    owner = server.owner.display_name if server.owner_id and server.owner else "—"
    return format_html(
        '<tr>{}<td><a href="{}/">{}</a></td>'
        '<td><span class="badge badge-env-{}">{}</span></td>'
        "<td>{}</td><td>{} {}</td><td>{}</td>"
        '<td class="text-end">{}</td><td class="text-end">{}{}</td><td>{}</td><td>{}</td></tr>',
        select,
        server.pk,
        server.hostname,
        server.environment,
        server.environment_label,
        server.criticality_label,
        server.os_name,
        server.os_version,
        tags,
        server.package_count,
        server.pending_updates,
        security,
        mark_safe(_when(server.last_inventory_at)),  # noqa: S308 - built from a date only
        owner,
    )
