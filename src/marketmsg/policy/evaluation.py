"""Scoring the communication guidelines against a labelled set of messages (precision and recall).

The set is a TSV file: expected rules (comma-separated, "-" for none), language, message; ``\\n``
in a message is a line break and a message that starts with ``html:`` is an HTML body. A rule is
scored per message: it either fired on the message or it did not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from marketmsg.policy import guidelines


@dataclass(frozen=True)
class Example:
    line: int
    expected: frozenset[str]
    language: str
    text: str
    html: str


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


@dataclass
class Report:
    examples: int = 0
    scores: dict[str, Score] = field(default_factory=dict)
    # (example, rules expected but not found, rules found but not expected)
    mistakes: list[tuple[Example, set[str], set[str]]] = field(default_factory=list)


def read(path: Path) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            labels, language, message = line.split("\t", 2)
        except ValueError:
            raise ValueError(f"{path}:{number}: expected three tab-separated columns") from None
        message = message.replace("\\n", "\n")
        html = message[5:] if message.startswith("html:") else ""
        expected = frozenset() if labels == "-" else frozenset(labels.split(","))
        examples.append(Example(number, expected, language, "" if html else message, html))
    return examples


Checker = Callable[[str, str], guidelines.Verdict]


def evaluate(examples: Iterable[Example], rules: Iterable[str], checker: Checker) -> Report:
    report = Report()
    scores = {rule: Score() for rule in rules}
    for example in examples:
        report.examples += 1
        fired = {f.rule for f in checker(example.text, example.html).findings}
        for rule, score in scores.items():
            wanted, got = rule in example.expected, rule in fired
            score.true_positives += wanted and got
            score.false_positives += got and not wanted
            score.false_negatives += wanted and not got
        missed, extra = set(example.expected) - fired, fired - set(example.expected)
        if missed or extra:
            report.mistakes.append((example, missed, extra))
    report.scores = scores
    return report
