import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class User(AbstractUser):
    """A person using PatchPlan. Times on every page and in every email are
    shown in `time_zone`; an empty value falls back to the current team's."""

    email = models.EmailField(_("email address"), unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # Part of the session hash: raising it (at logout) ends every session.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    REQUIRED_FIELDS = ["email"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def _get_session_auth_hash(self, secret=None) -> str:
        # Django's hash of the password, plus the session epoch, so that a
        # logout (which raises the epoch) signs out every other browser too.
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}:{self.session_epoch}", secret=secret, algorithm="sha256"
        ).hexdigest()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
