"""What an order ID and a product ID look like on this marketplace.

Patterns are settings (MARKETMSG_ORDER_ID_PATTERN, MARKETMSG_PRODUCT_ID_PATTERN); Amazon's 3-7-7
order numbers and 10-character ASINs are the default. Threading reads order IDs in subjects,
search recognises both, and the guidelines do not mistake an order ID for a phone number.
"""

from __future__ import annotations

import re
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

# A match must not run on into more letters, digits or dashes (ASCII: Japanese text around an
# order ID, as in 「注文503-1234567-1234567について」, is a boundary).
_BEFORE = r"(?<![0-9A-Za-z-])"
_AFTER = r"(?![0-9A-Za-z-])"


ORDER_ID_DEFAULT = r"\d{3}-\d{7}-\d{7}"
PRODUCT_ID_DEFAULT = r"[A-Z0-9]{10}"


@cache
def _setting(name: str, default: str) -> str:
    """A pattern setting, looked up once (an import checks a million IDs; override_settings in
    tests clears this through the setting_changed signal below). The guideline checker also runs
    outside a configured Django (bench/guidelines_bench.py): then Amazon's formats."""
    try:
        return str(getattr(settings, name))
    except ImproperlyConfigured:
        return default


@receiver(setting_changed)
def _forget_patterns(setting: str, **kwargs: object) -> None:
    if setting in ("ORDER_ID_PATTERN", "PRODUCT_ID_PATTERN"):
        _setting.cache_clear()


def _order_pattern() -> str:
    return _setting("ORDER_ID_PATTERN", ORDER_ID_DEFAULT)


def _product_pattern() -> str:
    return _setting("PRODUCT_ID_PATTERN", PRODUCT_ID_DEFAULT)


@cache
def _compiled(pattern: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The pattern whole (fullmatch), as it is found inside text (findall), and the latter for
    lower-cased text (the guidelines read drafts lower-cased)."""
    inside = f"{_BEFORE}((?:{pattern})){_AFTER}"
    return re.compile(pattern), re.compile(inside), re.compile(inside, re.IGNORECASE)


def is_order_id(text: str) -> bool:
    return _compiled(_order_pattern())[0].fullmatch(text) is not None


def order_ids_in(text: str) -> list[str]:
    return _compiled(_order_pattern())[1].findall(text)


def order_id_spans(text: str) -> list[tuple[int, int]]:
    """Where order IDs are in ``text``, in any letter case."""
    return [m.span(1) for m in _compiled(_order_pattern())[2].finditer(text)]


def product_id(text: str) -> str | None:
    """``text`` as a product ID (ASINs are upper case, so a typed ``b0c1…`` counts), or None."""
    whole = _compiled(_product_pattern())[0]
    for candidate in (text, text.upper()):
        if whole.fullmatch(candidate):
            return candidate
    return None


def is_product_id(text: str) -> bool:
    return _compiled(_product_pattern())[0].fullmatch(text) is not None
