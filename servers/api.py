"""HTTP push of inventory from the host itself, authenticated by a team token.

    dpkg-query -W | curl -H "Authorization: Bearer ppi_..." --data-binary @- \
        https://patchplan.example/api/v1/servers/web-01/inventory

Answers are JSON: 201 (or 200 for a repeat of the latest snapshot) with the
server's counts, 400 with the first bad line, 401 without a valid token, 403
when the token's maker may no longer import, 404 for an unknown server the
token may not create, 411 for a chunked body without Content-Length, 413 when
the body is over the limit (checked from Content-Length before the body is
read). Token use and refusals go to the security log. Past API_RATE_PER_ADDRESS
(counted before the token is checked) or API_RATE_PER_TOKEN the answer is 429
with Retry-After (patchplan.core.ratelimits).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit

from patchplan.core.ratelimits import Limit, retry_after, setting_rate
from patchplan.core.security_log import log_security_event
from patchplan.core.tokens import hash_token
from patchplan.teams.roles import Action, role_allows
from patchplan.teams.selectors import role_in_team

from . import selectors, services
from .choices import SnapshotSource
from .parsers import DEFAULT_MAX_BYTES, SUPPORTED_FORMATS


def _error(status: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="patchplan"'
    return response


def _maker_may_import(token) -> bool:
    if token.created_by is None:
        return False
    role = role_in_team(user=token.created_by, team_id=token.team_id)
    return role is not None and role_allows(role, Action.IMPORT_INVENTORY)


def _bearer(request: HttpRequest) -> str:
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else ""


def _token_key(group: str, request: HttpRequest) -> str:
    # Hashed as the token is stored: the secret itself never names a cache key.
    raw = _bearer(request)
    return hash_token(raw) if raw else "no-token"


LIMITS = (
    Limit("api-inventory-address", "ip", setting_rate("API_RATE_PER_ADDRESS")),
    Limit("api-inventory-token", _token_key, setting_rate("API_RATE_PER_TOKEN")),
)


@csrf_exempt
@ratelimit(group=LIMITS[0].group, key=LIMITS[0].key, rate=LIMITS[0].rate, block=False)
@ratelimit(group=LIMITS[1].group, key=LIMITS[1].key, rate=LIMITS[1].rate, block=False)
def inventory_push(request: HttpRequest, hostname: str) -> JsonResponse:
    if request.limited:
        wait = retry_after(request, LIMITS)
        log_security_event("rate_limited", request=request, username="-", retry_after=wait)
        response = _error(429, f"too many requests; retry in {wait} s", retry_after=wait)
        response["Retry-After"] = str(wait)
        return response
    if request.method != "POST":
        response = _error(405, "use POST with the listing as the body")
        response["Allow"] = "POST"
        return response
    raw = _bearer(request)
    if not raw:
        log_security_event("token_refused", request=request, username="-", reason="missing")
        return _error(401, "missing bearer token (Authorization: Bearer <token>)")
    token = services.token_authenticate(raw)
    if token is None:
        # Nothing of the presented value is logged: it may be a real secret mistyped.
        log_security_event("token_refused", request=request, username="-", reason="invalid")
        return _error(401, "invalid or revoked token")
    who = f"token:{token.name}"
    if not _maker_may_import(token):
        log_security_event(
            "token_refused", request=request, username=who, team=token.team_id, reason="maker"
        )
        return _error(403, "this token's creator may no longer import inventory for the team")
    log_security_event("token_used", request=request, username=who, team=token.team_id)

    # The limit is checked on the declared length, before a byte is read. A chunked
    # body has no length to check: refuse it rather than read an unbounded stream.
    if (
        not request.META.get("CONTENT_LENGTH")
        and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    ):
        log_security_event("upload_refused", request=request, username=who, reason="chunked")
        return _error(
            411, "send a Content-Length (curl --data-binary @- does); chunked bodies are refused"
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad Content-Length")
    if length > DEFAULT_MAX_BYTES:
        log_security_event("upload_refused", request=request, username=who, length=length)
        return _error(413, "the listing is larger than the 5 MB limit")
    if length <= 0:
        return _error(400, "empty body: send the command's output with --data-binary @-")

    fmt = request.GET.get("format") or None
    if fmt is not None and fmt not in SUPPORTED_FORMATS:
        return _error(400, f"unknown format; supported: {', '.join(SUPPORTED_FORMATS)}")
    try:
        name = services.normalize_hostname(hostname)
    except ValidationError as error:
        return _error(400, error.messages[0])

    server = selectors.server_by_hostname(team=token.team, hostname=name)
    body = request.body
    if server is None:
        if not token.can_create_servers:
            return _error(404, f"no server {name!r} in this team, and the token may not create it")
        # Parse before creating, so a bad listing does not leave an empty server behind.
        try:
            services.inventory_import_new_server(
                team=token.team, hostname=name, data=body, format=fmt, token=token
            )
        except services.InventoryRejected as error:
            return _reject(error)
        server = selectors.server_by_hostname(team=token.team, hostname=name)
        server.refresh_from_db()
        return JsonResponse(
            {
                "server": server.hostname,
                "created_server": True,
                "packages": server.package_count,
                "pending_updates": server.pending_updates,
                "pending_security": server.pending_security,
            },
            status=201,
        )
    try:
        result = services.inventory_import(
            server=server, data=body, format=fmt, source=SnapshotSource.API, token=token
        )
    except services.InventoryRejected as error:
        return _reject(error)
    return JsonResponse(
        {"server": server.hostname, "created_server": False, **result.as_json()},
        status=201 if result.created else 200,
    )


def _reject(error) -> JsonResponse:
    if error.too_large:
        return _error(413, error.messages[0])
    return _error(400, error.messages[0], line=error.line)
