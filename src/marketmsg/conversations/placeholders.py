"""Template placeholders (SPEC F5): which exist, which a text uses, and filling them in. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

# The placeholders a template may use; each is filled for one conversation or order.
KNOWN = ("buyer_name", "order_id", "asin", "product_title", "seller_name")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def used(text: str) -> list[str]:
    """Placeholder names in ``text``, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def unknown(text: str) -> list[str]:
    return [name for name in used(text) if name not in KNOWN]


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every known placeholder; unknown ones stay as written (callers refuse them first)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
