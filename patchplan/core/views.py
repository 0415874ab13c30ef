import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from patchplan.celery import app as celery_app

from .errors import NotInTeam
from .security_log import log_security_event

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return False, exc.__class__.__name__
    return True, "ok"


def _broker_ok() -> tuple[bool, str]:
    # A fresh connection each time: a pooled one could hide a broker that went away.
    try:
        with Connection(
            celery_app.conf.broker_url,
            transport_options=celery_app.conf.broker_transport_options,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return False, exc.__class__.__name__
    return True, "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker state for load balancers and monitoring.

    Error details stay in the log; the answer names only the exception type
    so that an unauthenticated probe learns nothing about the setup."""
    db_ok, db_state = _database_ok()
    broker_ok, broker_state = _broker_ok()
    healthy = db_ok and broker_ok
    if not healthy:
        logger.warning("healthz: database=%s broker=%s", db_state, broker_state)
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "database": db_state,
            "broker": broker_state,
            "time": timezone.now().isoformat(),
        },
        status=200 if healthy else 503,
    )


def _upload_limit(exception: Exception | None) -> tuple[int, str] | None:
    """The status and a plain sentence for a request refused by Django's upload limits."""
    if isinstance(exception, RequestDataTooBig):
        size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        return 413, f"The request body is larger than the {size:g} MB limit."
    if isinstance(exception, TooManyFieldsSent):
        return 400, (
            f"The form sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields, the limit."
        )
    if isinstance(exception, TooManyFilesSent):
        return 400, f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files sent, the limit."
    return None


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400 page; names the limit (and answers 413 for a body too large) when an
    upload limit refused the request, and records that in the security log."""
    refused = _upload_limit(exception)
    if refused is None:
        return render(request, "400.html", {"status": 400}, status=400)
    status, limit = refused
    log_security_event(
        "upload_refused",
        request=request,
        reason=exception.__class__.__name__,
        length=request.META.get("CONTENT_LENGTH") or "-",
    )
    return render(request, "400.html", {"status": status, "limit": limit}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    log_security_event("access_denied", request=request, status=403)
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, NotInTeam):
        log_security_event("access_denied", request=request, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: whatever broke may be what they need.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
