"""The security log: logins, lock-outs, refused access, token use, refused
uploads. One line per event on the `patchplan.security` logger, with the
user, the client address and the UTC time; never a password or a token;
values are escaped so that a crafted username cannot forge a log line."""

from __future__ import annotations

import logging
from datetime import UTC

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import F
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

logger = logging.getLogger("patchplan.security")


def _clean(value: object) -> str:
    text = str(value)
    # repr-style escaping of control characters (CR, LF, ...) and quotes.
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return escaped[:200]


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return "-"
    # Axes already resolved the address with the PROXY_COUNT rules.
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "-")


def log_security_event(
    event: str, *, request: HttpRequest | None = None, username: str | None = None, **fields
) -> None:
    """Write one security event; `fields` are extra key=value pairs."""
    if username is None and request is not None:
        user = getattr(request, "user", None)
        username = user.get_username() if user is not None and user.is_authenticated else "-"
    parts = [
        f"event={_clean(event)}",
        f'user="{_clean(username or "-")}"',
        f"ip={_clean(client_address(request))}",
        f"at={timezone.now().astimezone(UTC).isoformat(timespec='seconds')}",
    ]
    if request is not None:
        parts.append(f'path="{_clean(request.path)}"')
    parts.extend(f'{key}="{_clean(value)}"' for key, value in sorted(fields.items()))
    logger.info(" ".join(parts))


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    log_security_event("login_success", request=request, username=user.get_username())


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Only the username: the credentials dict also holds the password.
    log_security_event("login_failure", request=request, username=credentials.get("username", "-"))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is None:
        return
    log_security_event("logout", request=request, username=user.get_username())
    # Logging out ends every other session of this person too.
    get_user_model().objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
