from django.contrib import admin

from .models import InventorySnapshot, InventoryToken, PendingUpdate, Server, Tag


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = [
        "hostname",
        "team",
        "environment",
        "criticality",
        "package_count",
        "pending_security",
        "last_inventory_at",
    ]
    list_filter = ["environment", "criticality"]
    search_fields = ["hostname", "fqdn"]
    raw_id_fields = ["team", "owner"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "team"]


@admin.register(InventorySnapshot)
class InventorySnapshotAdmin(admin.ModelAdmin):
    list_display = ["server", "taken_at", "format", "source", "package_count", "pending_count"]
    raw_id_fields = ["server", "created_by", "token"]
    exclude = ["data"]


@admin.register(PendingUpdate)
class PendingUpdateAdmin(admin.ModelAdmin):
    list_display = ["name", "server", "current", "candidate", "is_security"]
    raw_id_fields = ["server", "snapshot"]


@admin.register(InventoryToken)
class InventoryTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "hint", "can_create_servers", "created_at", "revoked_at"]
    readonly_fields = ["token_hash", "hint"]
