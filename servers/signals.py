"""Signals the servers app sends, so apps above it (advisories) can react to an
inventory change without servers importing them."""

from django.dispatch import Signal

# Sent inside the import's transaction after a new snapshot changed a server's
# packages or pending updates; kwargs: server, snapshot. Receivers that fail
# roll the import back, so they must only do what belongs with it.
inventory_imported = Signal()

# Sent inside server_delete's transaction before the server is deleted; kwargs:
# server. A receiver that must keep the server (plans: it was patched in a
# window, and that record is append-only) raises ValidationError, which
# refuses the deletion with its message.
server_deleting = Signal()
