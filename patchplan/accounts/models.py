import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class User(AbstractUser):
    """A person using PatchPlan. Times on every page and in every email are
    shown in `time_zone`; an empty value falls back to the current team's."""

    email = models.EmailField(_("email address"), unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    REQUIRED_FIELDS = ["email"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
