"""Signals the servers app sends, so apps above it (advisories) can react to an
inventory change without servers importing them."""

from django.dispatch import Signal

# Sent inside the import's transaction after a new snapshot changed a server's
# packages or pending updates; kwargs: server, snapshot. Receivers that fail
# roll the import back, so they must only do what belongs with it.
inventory_imported = Signal()
