"""The sweeper: work the store says is owed but no task may be carrying, published again.

Calls pending for longer than a lease without being (re-)published (the broker was down when
they were posted, or lost their message), calls whose worker's lease ran out (it was killed),
and deliveries overdue. Publishing twice is harmless: every task claims its work in the
database first. The service runs it every ``sweep_seconds`` when a broker is set; Celery beat
can run the ``evaluator.sweep`` task instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from evaluator.store.calls import Store
from evaluator.store.deliveries import DeliveryStore
from evaluator.tasks.app import Publisher

__all__ = ["Swept", "sweep"]

log = logging.getLogger("evaluator.tasks.sweep")


@dataclass(frozen=True)
class Swept:
    calls: int
    deliveries: int


def sweep(store: Store, publisher: Publisher, lease_seconds: float) -> Swept:
    """Publish again what is owed; how many calls and deliveries were published."""
    stale = store.stale_calls(lease_seconds)
    published = publisher.calls(stale)
    store.mark_published(published)
    due = DeliveryStore(store).due(lease_seconds)
    sent = sum(publisher.delivery(d) for d in due)
    if published or sent:
        log.info("sweeper: published %d calls and %d deliveries again", len(published), sent)
    return Swept(len(published), sent)
