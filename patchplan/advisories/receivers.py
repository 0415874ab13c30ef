"""Reactions to other apps' signals."""

from __future__ import annotations

from .matching import match_server


def rematch_imported_server(sender, *, server, snapshot, **kwargs) -> None:
    """A server's inventory changed: recompute its matches in the import's transaction."""
    if snapshot.kind == snapshot.KIND_PACKAGES:
        match_server(server)
