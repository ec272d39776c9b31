"""Writing the marketplace's records: idempotent upserts keyed by the marketplace's own IDs.

``Upserter.apply(kind, raws)`` takes a batch of raw records and answers each one: created,
updated, unchanged, or refused with the field and why. A batch is written in one transaction with
bulk statements (the importer's speed comes from here: integration.people, integration.catalog).
A record is never half-applied: it is checked whole before anything is written, and if the
database still refuses the batch (another writer got there first), the records are written again
one by one, each in its own savepoint.

The Upserter remembers which sellers, buyers and products exist, so an import of a million orders
asks the database about each only once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DatabaseError, transaction

from marketmsg.integration import records
from marketmsg.integration.catalog import write_orders, write_products
from marketmsg.integration.outcomes import CREATED, REFUSED, UNCHANGED, UPDATED, Outcome, refused
from marketmsg.integration.people import Known, write_buyers, write_sellers
from marketmsg.integration.records import Refused

__all__ = ["CREATED", "REFUSED", "UNCHANGED", "UPDATED", "Outcome", "Upserter"]
log = logging.getLogger(__name__)
Writer = Callable[[list[tuple[int, Any]], list[Outcome], Known], None]
WRITERS: dict[str, Writer] = {
    "seller": write_sellers,
    "buyer": write_buyers,
    "product": write_products,
    "order": write_orders,
}


class Checked:
    """The records of one batch that passed their checks, in order, with their answers."""

    def __init__(self, kind: str, raws: Sequence[Any]) -> None:
        self.outcomes: list[Outcome] = []
        self.valid: list[tuple[int, Any]] = []  # (position in outcomes, record)
        seen: dict[str, int] = {}
        read = records.READERS[kind]
        for i, raw in enumerate(raws):
            try:
                record = read(raw)
            except Refused as refusal:
                self.outcomes.append(Outcome(records.key_of(kind, raw), REFUSED, problems=refusal.problems))
                continue
            if record.key in seen:
                self.outcomes.append(
                    refused(
                        record.key, "", f"appears twice in this batch (first as record {seen[record.key]})."
                    )
                )
                continue
            seen[record.key] = i
            self.outcomes.append(Outcome(record.key, ""))
            self.valid.append((i, record))


class Upserter:
    def __init__(self) -> None:
        self.known = Known()

    def apply(self, kind: str, raws: Sequence[Any], checked: Checked | None = None) -> list[Outcome]:
        """Writes one batch of ``kind``; ``checked`` is ``Checked(kind, raws)`` when the caller
        made it already (the importer checks the next batch while this one is written)."""
        batch = checked if checked is not None else Checked(kind, raws)
        write = WRITERS[kind]
        if not batch.valid:
            return batch.outcomes
        try:
            with transaction.atomic():
                write(batch.valid, batch.outcomes, self.known)
        except DatabaseError as error:  # IntegrityError too: a concurrent writer won a race
            log.info("batch of %s %ss clashed (%s); writing them one by one", len(batch.valid), kind, error)
            self.known.forget()
            for position, record in batch.valid:
                batch.outcomes[position] = Outcome(record.key, "")
                try:
                    with transaction.atomic():
                        write([(position, record)], batch.outcomes, self.known)
                except DatabaseError as single:
                    self.known.forget()
                    batch.outcomes[position] = refused(
                        record.key,
                        "",
                        f"the database refused it ({type(single).__name__}); nothing was written.",
                    )
        return batch.outcomes
