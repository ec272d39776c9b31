"""What the upserts answer for each record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marketmsg.integration.records import Problem

CREATED, UPDATED, UNCHANGED, REFUSED = "created", "updated", "unchanged", "refused"


@dataclass
class Outcome:
    key: str
    result: str
    id: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"key": self.key, "result": self.result}
        if self.id is not None:
            answer["id"] = self.id
        if self.problems:
            answer["errors"] = [p.as_dict() for p in self.problems]
        return answer


def refused(key: str, field_name: str, message: str) -> Outcome:
    return Outcome(key, REFUSED, problems=[Problem(field_name, message)])
