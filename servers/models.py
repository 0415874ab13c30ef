from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team

from .choices import Criticality, Environment


class Tag(models.Model):
    """A free label on servers (role, application, location...), per team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="server_tags")
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Server(models.Model):
    """A host in a team's inventory; hostnames are unique within a team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="servers")
    hostname = models.CharField(_("hostname"), max_length=253)
    fqdn = models.CharField(_("FQDN"), max_length=253, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    environment = models.CharField(
        _("environment"), max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    criticality = models.CharField(
        _("criticality"), max_length=16, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    os_name = models.CharField(_("OS"), max_length=100, blank=True)
    os_version = models.CharField(_("OS version"), max_length=50, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_servers",
        verbose_name=_("owner"),
    )
    notes = models.TextField(_("notes"), blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="servers", verbose_name=_("tags"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["team", "hostname"], name="server_unique_hostname")
        ]

    def __str__(self) -> str:
        return self.hostname
