"""Celery adapters: load ids, call the service, own the retry policy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from .feeds import FeedError
from .matching import FLEET_STEPS, match_servers
from .models import FleetMatchRun
from .selectors import progress_key
from .services import advisories_import, exposure_alerts, source_settings

log = logging.getLogger(__name__)


@shared_task(name="advisories.rematch_fleet", acks_late=True)
def rematch_fleet() -> int:
    """Recompute every server's matches after an advisory refresh, with progress."""
    run = FleetMatchRun.objects.create(releases_total=FLEET_STEPS)

    def progress(done: int, total: int) -> None:
        # The matching runs in one transaction, where a row update stays unseen
        # until the end: the steps go to the shared cache, which pages read.
        cache.set(progress_key(run.pk), (done, total), 3600)

    try:
        count = match_servers(None, progress=progress)
    except Exception as error:
        FleetMatchRun.objects.filter(pk=run.pk).update(
            error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    FleetMatchRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), releases_done=FLEET_STEPS, releases_total=FLEET_STEPS
    )
    exposure_alerts()
    return count


@shared_task(name="advisories.refresh")
def refresh_advisories() -> dict[str, str]:
    """The scheduled refresh: each enabled source, each in its own transaction.

    One source failing (recorded on its SourceState) does not stop the others."""
    results = {}
    for source, conf in source_settings().items():
        if not conf.get("enabled"):
            continue
        for url in conf.get("urls", []):
            try:
                stats = advisories_import(source=source, location=url)
            except FeedError as error:
                results[f"{source} {url}"] = f"failed: {error}"
            else:
                results[f"{source} {url}"] = stats.summary()
    return results
