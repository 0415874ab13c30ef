from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from patchplan.core.tokens import hash_token  # noqa: F401 - its old home, kept importable
from patchplan.teams.models import Team

from .choices import Criticality, Environment, SnapshotSource

_ENV_LABELS = dict(Environment.choices)
_CRIT_LABELS = dict(Criticality.choices)


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
    """A host in a team's inventory; hostnames are unique within a team.

    The inventory counts are denormalised here (kept by the import service) so
    the server list can filter and sort 10,000 servers without touching the
    package tables.
    """

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
    # The distribution release advisories are matched against ("bookworm",
    # "jammy", "almalinux:9"); empty means "derive it from the OS fields"
    # (servers.releases.release_for_os). An apt listing that names its suites sets it.
    release = models.CharField(_("release"), max_length=40, blank=True)
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

    # Inventory state, written only by services.inventory.
    package_count = models.PositiveIntegerField(_("packages"), default=0)
    pending_updates = models.PositiveIntegerField(_("pending updates"), default=0)
    pending_security = models.PositiveIntegerField(_("pending security updates"), default=0)
    last_inventory_at = models.DateTimeField(_("last inventory"), null=True, blank=True)
    # Version ordering of the installed packages ("deb" or "rpm").
    package_family = models.CharField(max_length=3, default="deb")

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["team", "hostname"], name="server_unique_hostname")
        ]
        indexes = [
            models.Index(fields=["team", "environment"], name="server_team_env"),
            models.Index(fields=["team", "-pending_security"], name="server_team_security"),
            models.Index(fields=["team", "last_inventory_at"], name="server_team_inventory"),
            # Which version orderings a team's fleet uses (fleet search's bound): one
            # index probe per family, whatever the fleet's size.
            models.Index(fields=["team", "package_family"], name="server_team_family"),
        ]

    def __str__(self) -> str:
        return self.hostname

    # Plain dict lookups: Django's get_FOO_display() rebuilds a hashable copy of
    # the choices on every call, which a 50-row list pays 100 times.
    @property
    def environment_label(self) -> str:
        return _ENV_LABELS.get(self.environment, self.environment)

    @property
    def criticality_label(self) -> str:
        return _CRIT_LABELS.get(self.criticality, self.criticality)

    @property
    def effective_release(self) -> str:
        """The release advisories are matched against: set, or derived from the OS."""
        from .releases import release_for_os

        return self.release or release_for_os(self.os_name, self.os_version)


class InventorySnapshot(models.Model):
    """One import of a package listing for a server: the proof of its state then.

    ``data`` holds the listing in a compact canonical form (one package or
    update a line, sorted), so any two snapshots can be diffed without a row
    per package per snapshot; ``content_hash`` is its sha256, which recognises
    an identical repeat import.
    """

    KIND_PACKAGES = "packages"
    KIND_UPDATES = "updates"

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(_("taken at"))
    format = models.CharField(_("format"), max_length=20)
    source = models.CharField(_("source"), max_length=10, choices=SnapshotSource.choices)
    content_hash = models.CharField(max_length=64)
    data = models.TextField()
    package_count = models.PositiveIntegerField(default=0)
    pending_count = models.PositiveIntegerField(default=0)
    security_count = models.PositiveIntegerField(default=0)
    # Change against the previous snapshot of the same kind.
    added_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    upgraded_count = models.PositiveIntegerField(default=0)
    downgraded_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "InventoryToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-taken_at", "-pk"]
        indexes = [models.Index(fields=["server", "-taken_at"], name="snapshot_server_taken")]

    def __str__(self) -> str:
        return f"{self.server_id} {self.format} {self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def kind(self) -> str:
        return self.KIND_UPDATES if self.format == "apt-upgradable" else self.KIND_PACKAGES


class ServerPackage(models.Model):
    """A package installed on a server now (from its latest package snapshot).

    Updated by difference on each import, so an import touches only the
    packages that changed. Deliberately lean (two secondary indexes, no
    constraints beyond the server key): this table holds a row per package per
    server, millions of rows, and every index costs on each import. The import
    service keeps (server, name, architecture, version) unique.
    """

    # Indexed with the name below: (server, name) serves a server's rows and the probe
    # "this server's row of package X" that the fleet search makes per server.
    server = models.ForeignKey(
        Server, on_delete=models.CASCADE, related_name="packages", db_index=False
    )
    name = models.CharField(max_length=200)
    architecture = models.CharField(max_length=32, blank=True)
    version = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, default="install")
    # The source package and its version when the listing said so; empty
    # means "same as the binary" (how advisories then match it).
    source_name = models.CharField(max_length=200, blank=True, default="")
    source_version = models.CharField(max_length=200, blank=True, default="")
    # servers.versions.version_key(version, family=the server's) as UTF-8: bytes compare
    # the same in PostgreSQL and SQLite whatever the collation, so "below X" is a range.
    # Empty for a version its family's rules reject.
    version_key = models.BinaryField(default=b"", blank=True)

    class Meta:
        ordering = ["name", "architecture"]
        # The fleet search pages a team's servers by hostname and probes each for the
        # package (server, name): with only a name index and a server index PostgreSQL
        # intersected a server's 2,000 rows with the fleet's 20,000 rows of the name for
        # every server (1.1 s a page at 20,000 servers). Without a page order it looks a
        # name up across the fleet, with a version bound over that name's range of keys
        # (name, version_key), which also serves name alone and counts without the table.
        indexes = [
            models.Index(fields=["server", "name"], name="serverpackage_server_name"),
            # Carries the server: counting a name's servers (the search's total) reads
            # the index alone, not one table page per row.
            models.Index(
                fields=["name", "version_key"],
                include=["server"],
                name="serverpackage_name_version_srv",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class PendingUpdate(models.Model):
    """An update apt offered for a server at its latest `apt list --upgradable` import."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="pending")
    snapshot = models.ForeignKey(InventorySnapshot, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    architecture = models.CharField(max_length=32, blank=True)
    current = models.CharField(max_length=200)
    candidate = models.CharField(max_length=200)
    suite = models.CharField(max_length=200)
    is_security = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_security", "name"]
        indexes = [
            models.Index(fields=["server", "name"], name="pending_server_name"),
            models.Index(fields=["name"], name="pending_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.current} -> {self.candidate}"


TOKEN_PREFIX = "ppi_"  # noqa: S105 - a recognisable prefix, not a secret


class InventoryToken(models.Model):
    """A team's bearer token for pushing inventory over HTTP; only its hash is kept."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="inventory_tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, so a user can tell tokens apart in the list.
    hint = models.CharField(max_length=12)
    can_create_servers = models.BooleanField(_("may create unknown servers"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
