"""Communication guidelines (SPEC F10): what a seller's message may not contain. Pure functions.

``check(text, html)`` returns every finding: the rule, its severity, where it is in the text (so a
form can highlight it) and why, in Japanese and English. The rules are data
(``guidelines.json``, or the operator's own file: allowed marketplace domains, link shorteners,
word lists, and per rule a severity — "block" stops the message, "remove" cuts the words out and
lets the rest through, "warn" only tells the writer), so an operator can adapt them without code.
Text is compared after NFKC normalisation, one character at a time, so that full-width spellings
(ｅｘａｍｐｌｅ．ｃｏｍ) are caught and positions still point at what the writer typed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from marketmsg.orders import identifiers

RULES_FILE = Path(__file__).with_name("guidelines.json")
BLOCK, REMOVE, WARN = "block", "remove", "warn"
# What a removed contact detail becomes in the delivered message.
REMOVED_MARK = "［削除 / removed］"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # BLOCK, REMOVE or WARN
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
        return any(f.severity == BLOCK for f in self.findings)

    @property
    def removals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == REMOVE)

    def rules(self, severity: str = BLOCK) -> list[str]:
        """The names of the rules that fired with ``severity``, each once, in order of appearance."""
        return list(dict.fromkeys(f.rule for f in self.findings if f.severity == severity))


@dataclass(frozen=True)
class Rules:
    allowed_domains: tuple[str, ...]
    shorteners: tuple[str, ...]
    severity: dict[str, str]
    promotion: Words
    sns: Words
    # A sentence that names the marketplace speaks of the marketplace's own sales and coupons.
    marketplace_mention: re.Pattern[str] | None
    domain: re.Pattern[str]
    explanations: dict[str, tuple[str, str]]


def allowing(rules: Rules, domains: Iterable[str]) -> Rules:
    """The same rules with more allowed domains (the site's own relay and web host names)."""
    more = tuple(d.lower() for d in domains if d and d.lower() not in rules.allowed_domains)
    return replace(rules, allowed_domains=rules.allowed_domains + more) if more else rules


@cache
def load(path: Path = RULES_FILE) -> Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = {s for s in data["severity"].values()} - {BLOCK, REMOVE, WARN}
    if unknown:
        raise ValueError(f"{path}: unknown severity {sorted(unknown)}; use block, remove or warn")
    tlds = sorted(data["tlds"], key=len, reverse=True)
    dot = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\s*\[dot\]\s*|\s*\(dot\)\s*|\s+dot\s+)"
    # Atomic: once a label is read it is not tried again shorter, which made every word of ordinary
    # text cost as many attempts as it has letters.
    label = r"(?>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    tld = "|".join(re.escape(t).replace(r"\.", dot) for t in tlds)
    domain = re.compile(
        rf"(?<![a-z0-9@._-])(?:(?:h[tx]{{2}}ps?|ftp)://)?((?:{label}{dot})+(?:{tld}))(?![a-z0-9-])(?:[/?#][^\s<>\"']*)?"
    )
    # The text is matched after NFKC and lower-casing (_normalised), so the patterns are too and
    # need no IGNORECASE, which made the word list several times slower.
    words = {_plain(w) for w in data["promotion_words"]["ja"] + data["promotion_words"]["en"]}
    promotion = _word_list(words)
    sns = _sns_pattern([_plain(w) for w in data["sns_words"]])
    mentions = "|".join(re.escape(_plain(w)) for w in data.get("marketplace_names", []))
    return Rules(
        allowed_domains=tuple(d.lower() for d in data["allowed_domains"]),
        shorteners=tuple(d.lower() for d in data["shorteners"]),
        severity=dict(data["severity"]),
        promotion=promotion,
        sns=sns,
        marketplace_mention=re.compile(mentions) if mentions else None,
        domain=domain,
        explanations={k: (v[0], v[1]) for k, v in data["explanations"].items()},
    )


def _sns_pattern(names: list[str]) -> Words:
    """A social-media name with an ID after it: "LINE ID: shop_1", "インスタ @shop", "Instagram is
    shop_jp", "Facebookページ shopjapan". Without an ID marker or an ID-like handle (a digit, "_" or
    "."), ordinary words are left alone: "Line 3 of the address", "ラインナップ", "Instagram-style"."""
    english = _trie([n for n in names if n.isascii()])
    japanese = _trie([n for n in names if not n.isascii()])
    handle = r"@?[a-z_][a-z0-9_.-]{2,29}"
    id_like = r"@?(?=[a-z0-9_.-]*[_.\d])[a-z_][a-z0-9_.-]{2,29}"
    after_name = "|".join(
        [
            rf"\s*(?:の\s*)?id\s*(?:は|is|:)?\s*{handle}",  # LINE ID: x / ラインのIDは x
            rf"\s*(?:page|ページ|account|アカウント)\s*:?\s*{handle}",  # Facebookページ x
            rf"\s*:\s*(?:@{handle[2:]}|{id_like})",  # Instagram: @x / LINE: tanaka_2026
            rf"(?<!line)\s*:\s*{handle}",  # Facebook: x (not "Subject line: order")
            rf"\s*(?:is|は|→|->)\s*{id_like}",  # Instagram is x_y
            r"\s*@[a-z0-9_.-]{3,30}",  # Twitter @x
        ]
    )
    return Words(
        re.compile(rf"{english}(?![a-z])(?:{after_name})"), re.compile(rf"{japanese}(?:{after_name})")
    )


def _plain(word: str) -> str:
    return unicodedata.normalize("NFKC", word).lower()


def _word_list(words: set[str]) -> Words:
    """English words match whole words only ("sale" is not in "wholesale"); Japanese anywhere.
    One guard around all English words: a guard per word made the pattern twice as slow."""
    english = _trie([w for w in words if w.isascii()])
    japanese = _trie([w for w in words if not w.isascii()])
    return Words(re.compile(rf"{english}(?![a-z])"), re.compile(japanese))


@dataclass(frozen=True)
class Words:
    """English words (whole words only) and Japanese ones, as two patterns: each starts with a
    known set of characters, which lets the regex engine skip ahead; one alternation of both was
    six times slower. The guard before an English word is checked here, for the same reason."""

    english: re.Pattern[str]
    japanese: re.Pattern[str]

    def finditer(self, normal: str) -> Iterator[re.Match[str]]:
        for match in self.english.finditer(normal):
            if match.start() == 0 or not ("a" <= normal[match.start() - 1] <= "z"):
                yield match
        yield from self.japanese.finditer(normal)


def _trie(words: list[str]) -> str:
    """A pattern matching any of ``words``, as a tree of shared prefixes: a flat alternation of a
    hundred words tries each one at every position. The longest word wins (optional tails are greedy)."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{pattern(root)})"


SCHEME_URL = re.compile(
    r"(?<![a-z0-9])(?:h[tx]{2}ps?|ftp)://([a-z0-9][a-z0-9.-]*\.[a-z]{2,})(?:[:/?#][^\s<>\"']*)?"
)
# A host given by its address: IPv4 with a scheme, a port or a path, or alone as a dotted quad;
# IPv6 in brackets after a scheme. No name, so no top-level domain for the domain pattern to see.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IP_URL = re.compile(
    rf"(?<![\w.])(?:(?:h[tx]{{2}}ps?|ftp)://)?({_OCTET}(?:\.{_OCTET}){{3}})(?![\w.]|-\d)(?:[:/?#][^\s<>\"']*)?"
    r"|(?<![a-z0-9])(?:h[tx]{2}ps?|ftp)://(\[[0-9a-f:.]+\])(?:[:/?#][^\s<>\"']*)?"
)
EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
# Japanese numbers (03-1234-5678, 090-1234-5678, 0120-123-456, 09012345678) and international
# ones (+81 90 1234 5678). An order ID (503-1234567-1234567) has other group sizes.
PHONE = re.compile(
    r"(?<![\d-])(?:\+\d{1,3}[\s-]?(?:\(0\)\s?)?\(?\d{1,4}\)?[\s-]?\d{2,4}[\s-]?\d{3,4}"
    r"|0\d{1,4}-\d{1,4}-\d{3,4}|0[5-9]0[\s-]?\d{4}[\s-]?\d{4}|0\d{9})(?![\d-])"
)


def check(text: str, html: str = "", rules: Rules | None = None) -> Verdict:
    rules = rules or load()
    normal, origin = _normalised(text)
    findings: list[Finding] = []

    def found(rule: str, start: int, end: int) -> None:
        ja, en = rules.explanations[rule]
        a, b = origin[start], origin[end - 1] + 1
        findings.append(Finding(rule, rules.severity.get(rule, BLOCK), a, b, text[a:b], ja, en))

    # Cheap substring tests first: most drafts have no "@" and no "://" at all.
    emails = [(m.start(), m.end()) for m in EMAIL.finditer(normal)] if "@" in normal else []
    for start, end in emails:
        # The marketplace's own addresses (relay addresses in a quoted reply) are not contact details.
        if not _allowed(normal[start:end].rpartition("@")[2], rules):
            found("contact_email", start, end)
    links = []
    for match in rules.domain.finditer(normal):
        inside_email = any(s <= match.start() < e for s, e in emails)
        if not inside_email:
            links.append((match.start(), match.end()))
            if not _allowed(match.group(1), rules):
                found("external_link", match.start(), match.end())
    # With a scheme, any host is a link, whatever its top-level domain (youtu.be, example.gg).
    for match in SCHEME_URL.finditer(normal) if "://" in normal else ():
        if not any(s <= match.start() < e for s, e in links):
            links.append((match.start(), match.end()))
            if not _allowed(match.group(1), rules):
                found("external_link", match.start(), match.end())
    for match in IP_URL.finditer(normal) if "." in normal or "[" in normal else ():
        if not any(s <= match.start() < e for s, e in links):
            links.append((match.start(), match.end()))
            if not _allowed(match.group(1) or match.group(2), rules):
                found("external_link", match.start(), match.end())
    # Digits or a handle inside an address or a link are part of it (a relay address's hex can
    # hold ten digits in a row); the address or link is the finding, if any.
    # An order ID is no phone number, whatever the marketplace's order IDs look like.
    taken = emails + links
    numbers = taken + identifiers.order_id_spans(normal) if any(c.isdigit() for c in normal) else taken
    for match in PHONE.finditer(normal):
        if _inside(match.start(), numbers):
            continue
        found("contact_phone", match.start(), match.end())
    for match in rules.sns.finditer(normal):
        if not _inside(match.start(), taken):
            found("contact_sns", match.start(), match.end())
    # Words inside a quote, an address or a link are not promotions of their own (sales@example.com).
    quoted = [(m.start(), m.end()) for m in QUOTED.finditer(normal)] + emails + links
    for match in rules.promotion.finditer(normal):
        if not _mentioned_only(normal, match.start(), quoted, rules):
            found("promotion", match.start(), match.end())
    if html:
        findings.extend(_html_findings(html, rules))
        # What the reader sees of the HTML may differ from the text part (a multipart/alternative
        # need not say the same twice): its findings count too, without a position in the text.
        seen = {(f.rule, _normalised(f.text)[0]) for f in findings}
        for finding in check(visible_text(html), rules=rules).findings:
            if (finding.rule, _normalised(finding.text)[0]) not in seen:
                findings.append(replace(finding, start=-1, end=-1))
    findings.sort(key=lambda f: (f.start, f.end))
    return Verdict(tuple(findings))


# Words in quotes are mentioned, not used: a product's title, the buyer's own question.
QUOTED = re.compile(r"「[^」\n]{0,80}」|『[^』\n]{0,80}』|\"[^\"\n]{0,80}\"|“[^”\n]{0,80}”")
SENTENCE_END = re.compile(r"[。!?！？\n]|\.(?:\s|$)")
# A promotion word in a sentence that says the shop does not do it.
DENIAL = re.compile(
    r"(?:do not|don't|does not|doesn't|never|cannot|can't) (?:issue|offer|run|control|provide|give)"
    r"|not by us|発行しておりません|行っておりません|実施しておりません"
    r"|しておりません|ございません|できかねます"
)


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= at < end for start, end in spans)


def _mentioned_only(normal: str, at: int, quoted: list[tuple[int, int]], rules: Rules) -> bool:
    """A promotion word quoted, denied ("we do not issue coupons") or about the marketplace's own
    promotions is a mention, not a promotion."""
    if _inside(at, quoted):
        return True
    starts = [m.end() for m in SENTENCE_END.finditer(normal, 0, at)]
    start = starts[-1] if starts else 0
    end_match = SENTENCE_END.search(normal, at)
    sentence = normal[start : end_match.start() if end_match else len(normal)]
    if DENIAL.search(sentence):
        return True
    return rules.marketplace_mention is not None and rules.marketplace_mention.search(sentence) is not None


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


_BREAKS = frozenset({"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "blockquote", "table"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._hidden += 1
        elif tag in _BREAKS:
            self.pieces.append("\n")
        elif tag == "a":  # a link is a word of its own; other inline tags may split one (ex<b>ample.com</b>)
            self.pieces.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title") and self._hidden:
            self._hidden -= 1
        elif tag in _BREAKS:
            self.pieces.append("\n")
        elif tag == "a":
            self.pieces.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.pieces.append(data)


def visible_text(html: str) -> str:
    """The words a reader of ``html`` sees, with line breaks where blocks end."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.pieces)


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
        findings.append(Finding(rule, rules.severity.get(rule, BLOCK), -1, -1, url, ja, en))
    return findings


def excused(verdict: Verdict, earlier: Iterable[str]) -> Verdict:
    """Without the findings the other party wrote first: a seller quoting the buyer's own words (the
    buyer's phone number, a link the buyer sent) repeats them, and is not blocked for it."""
    said = "\n".join(_normalised(text)[0] for text in earlier if text)
    if not said:
        return verdict
    return Verdict(
        tuple(
            f
            for f in verdict.findings
            # A promotion word is only a word: a buyer asking about coupons lets no seller offer one.
            if f.rule == "promotion" or _normalised(f.text)[0] not in said
        )
    )


def redacted(text: str, verdict: Verdict) -> str:
    """``text`` with the words of every "remove" finding replaced by REMOVED_MARK."""
    spans = sorted((f.start, f.end) for f in verdict.removals if f.start >= 0)
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        if start < at:  # overlaps the previous removal, which already covers it
            continue
        pieces += [text[at:start], REMOVED_MARK]
        at = end
    return "".join(pieces) + text[at:]
