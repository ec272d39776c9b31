"""Communication guidelines (SPEC F10): what a seller's message may not contain. Pure functions.

``check(text, html)`` returns every finding: the rule, its severity, where it is in the text (so a
form can highlight it) and why, in Japanese and English. The rules are data
(``guidelines.json``: allowed marketplace domains, link shorteners, word lists, severities), so an
operator can adapt them without code. Text is compared after NFKC normalisation, one character at
a time, so that full-width spellings (ｅｘａｍｐｌｅ．ｃｏｍ) are caught and positions still point at
what the writer typed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

RULES_FILE = Path(__file__).with_name("guidelines.json")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "block" or "warn"
    start: int  # in the original text; -1 for a finding in the HTML
    end: int
    text: str
    explanation_ja: str
    explanation_en: str


@dataclass(frozen=True)
class Verdict:
    findings: tuple[Finding, ...] = field(default=())

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)


@dataclass(frozen=True)
class Rules:
    allowed_domains: tuple[str, ...]
    shorteners: tuple[str, ...]
    severity: dict[str, str]
    promotion: re.Pattern[str]
    sns: re.Pattern[str]
    domain: re.Pattern[str]
    explanations: dict[str, tuple[str, str]]


@cache
def load(path: Path = RULES_FILE) -> Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    tlds = sorted(data["tlds"], key=len, reverse=True)
    dot = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\s*\[dot\]\s*|\s*\(dot\)\s*|\s+dot\s+)"
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    tld = "|".join(re.escape(t).replace(r"\.", dot) for t in tlds)
    domain = re.compile(
        rf"(?<![a-z0-9@._-])(?:(?:h[tx]{{2}}ps?|ftp)://)?((?:{label}{dot})+(?:{tld}))(?![a-z0-9-])(?:[/?#][^\s<>\"']*)?"
    )
    # The text is matched after NFKC and lower-casing (_normalised), so the patterns are too and
    # need no IGNORECASE, which made the word list several times slower.
    words = {_plain(w) for w in data["promotion_words"]["ja"] + data["promotion_words"]["en"]}
    promotion = _word_list(words)
    sns_names = "|".join(re.escape(_plain(w)) for w in data["sns_words"])
    sns = re.compile(rf"(?:{sns_names})\s*(?:id)?\s*[:は]?\s*@?[a-z0-9_.-]{{3,30}}")
    return Rules(
        allowed_domains=tuple(d.lower() for d in data["allowed_domains"]),
        shorteners=tuple(d.lower() for d in data["shorteners"]),
        severity=dict(data["severity"]),
        promotion=promotion,
        sns=sns,
        domain=domain,
        explanations={k: (v[0], v[1]) for k, v in data["explanations"].items()},
    )


def _plain(word: str) -> str:
    return unicodedata.normalize("NFKC", word).lower()


def _word_list(words: set[str]) -> re.Pattern[str]:
    """English words match whole words only ("sale" is not in "wholesale"); Japanese anywhere.
    One guard around all English words: a guard per word made the pattern twice as slow."""
    longest_first = sorted(words, key=len, reverse=True)
    english = "|".join(re.escape(w) for w in longest_first if w.isascii())
    japanese = "|".join(re.escape(w) for w in longest_first if not w.isascii())
    return re.compile(rf"(?<![a-z])(?:{english})(?![a-z])|{japanese}")


EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
# Japanese numbers (03-1234-5678, 090-1234-5678, 0120-123-456, 09012345678) and international
# ones (+81 90 1234 5678). An order ID (503-1234567-1234567) has other group sizes.
PHONE = re.compile(
    r"(?<![\d-])(?:\+\d{1,3}[\s-]?\d{1,4}[\s-]?\d{2,4}[\s-]?\d{3,4}"
    r"|0\d{1,4}-\d{1,4}-\d{3,4}|0[5-9]0\d{8}|0\d{9})(?![\d-])"
)


def check(text: str, html: str = "", rules: Rules | None = None) -> Verdict:
    rules = rules or load()
    normal, origin = _normalised(text)
    findings: list[Finding] = []

    def found(rule: str, start: int, end: int) -> None:
        ja, en = rules.explanations[rule]
        a, b = origin[start], origin[end - 1] + 1
        findings.append(Finding(rule, rules.severity.get(rule, "block"), a, b, text[a:b], ja, en))

    emails = [(m.start(), m.end()) for m in EMAIL.finditer(normal)]
    for start, end in emails:
        found("contact_email", start, end)
    for match in rules.domain.finditer(normal):
        inside_email = any(s <= match.start() < e for s, e in emails)
        if not inside_email and not _allowed(match.group(1), rules):
            found("external_link", match.start(), match.end())
    for match in PHONE.finditer(normal):
        found("contact_phone", match.start(), match.end())
    for match in rules.sns.finditer(normal):
        found("contact_sns", match.start(), match.end())
    for match in rules.promotion.finditer(normal):
        found("promotion", match.start(), match.end())
    if html:
        findings.extend(_html_findings(html, rules))
    findings.sort(key=lambda f: (f.start, f.end))
    return Verdict(tuple(findings))


def _normalised(text: str) -> tuple[str, list[int]]:
    """NFKC and lower case, with each new character's position in ``text``. Most text is already
    normal and keeps its length, which the fast path sees at once."""
    lowered = text.lower()
    if len(lowered) == len(text) and unicodedata.is_normalized("NFKC", lowered):
        return lowered, list(range(len(text) + 1))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in _folded(char):
            out.append(piece)
            origin.append(index)
    origin.append(len(text))
    return "".join(out), origin


@cache
def _folded(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower()


def _allowed(host: str, rules: Rules) -> bool:
    host = re.sub(r"\s*(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\s+dot\s+)\s*", ".", host.lower())
    if host in rules.shorteners:
        return False
    return any(host == d or host.endswith("." + d) for d in rules.allowed_domains)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []  # (rule, url)
        self._in_link = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "a":
            self._in_link += 1
            if values.get("href"):
                self.urls.append(("external_link", values["href"]))
        if tag == "img":
            if self._in_link:
                self.urls.append(("linked_image", values.get("src", "") or "img"))
            for source in [values.get("src", "")] + [
                s.split()[0] for s in values.get("srcset", "").split(",") if s.strip()
            ]:
                if re.match(r"(?:https?:)?//", source, re.IGNORECASE):
                    self.urls.append(("remote_image", source))
        style = values.get("style", "")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", style, re.IGNORECASE):
            self.urls.append(("remote_image", url))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_link:
            self._in_link -= 1


def _html_findings(html: str, rules: Rules) -> list[Finding]:
    parser = _Links()
    parser.feed(html)
    findings = []
    for rule, url in parser.urls:
        host = re.sub(r"^(?:[a-z]+:)?//", "", url.lower()).split("/", 1)[0].split(":", 1)[0]
        if rule == "external_link" and (url.lower().startswith(("mailto:", "#")) or _allowed(host, rules)):
            continue
        if rule == "remote_image" and _allowed(host, rules):
            continue
        ja, en = rules.explanations[rule]
        findings.append(Finding(rule, rules.severity.get(rule, "block"), -1, -1, url, ja, en))
    return findings
