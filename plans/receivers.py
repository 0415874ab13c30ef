"""What plans plugs into the layers below it when Django starts (PlansConfig.ready):
the audit writer for teams and servers, the guard on deleting a patched server,
and the plan notifications (scans and email content) for the outbox."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def refuse_deleting_a_patched_server(sender, server, **kwargs) -> None:
    """servers.signals.server_deleting: a server worked on in a plan's window is
    kept, because the plan's execution record (append-only) names it."""
    from plans.models import ServerExecution

    if ServerExecution.objects.filter(server_id=server.pk).exists():
        raise ValidationError(
            _("%(h)s was patched in a plan's window; its record is kept.") % {"h": server.hostname}
        )


def connect() -> None:
    from patchplan.core import audit as core_audit
    from patchplan.notifications import registry
    from plans import audit
    from plans.notify import emails, scans
    from servers.signals import server_deleting

    core_audit.set_writer(audit)
    server_deleting.connect(refuse_deleting_a_patched_server, dispatch_uid="plans-keep-patched")
    registry.register_content(emails.PLAN_KINDS, emails.message_content)
    for name, scan in scans.SCANS:
        registry.register_scan(name, scan)
