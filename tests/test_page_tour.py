"""Every page, as the people who use it, in Japanese and English, on a desktop and a phone, in
Debian's Chromium: a screenshot of each (for people to look at: `make screenshots` writes them to
var/screenshots/), no page that scrolls sideways on a phone, and an axe-core check (npm
`axe-core`, injected by Playwright) with no serious or critical finding."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from marketmsg.accounts.models import User
from tests.support.personas import PASSWORD, buyer_writes_on_the_web, make_buyer, make_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
OWNER, BUYER = "owner@sakura-books.example.jp", "taro.yamada@example.jp"
STAFF, SUPERVISOR = "staff@marketplace.example", "supervisor@marketplace.example"


def world() -> dict[str, object]:
    pair = make_pair()
    make_buyer("hanako@example.jp", "佐藤 花子")
    message = buyer_writes_on_the_web(pair, "配送について", "いつ届きますか？")
    User.objects.create_user(STAFF, PASSWORD, name="運営 一郎", role=User.Role.STAFF)
    User.objects.create_user(SUPERVISOR, PASSWORD, name="監督 花子", role=User.Role.STAFF, is_supervisor=True)
    return {"conversation": message.conversation_id, "order": pair.order.order_id}


def tour(values: dict[str, object]) -> dict[str, list[str]]:
    conversation, order = values["conversation"], values["order"]
    return {
        "": ["/login/", "/password/reset/"],
        OWNER: [
            "/messages/",
            "/messages/?box=sent",
            f"/messages/{conversation}/",
            "/orders/",
            "/orders/report/",
            "/templates/",
            "/performance/",
            "/settings/senders/",
            "/settings/fba/",
            "/settings/team/",
            "/account/",
            "/account/tokens/",
            "/account/two-factor/",
        ],
        BUYER: ["/my/orders/", "/my/messages/", f"/my/messages/{conversation}/", "/my/ask/", "/account/"],
        STAFF: [
            "/",
            "/staff/claims/",
            f"/staff/search/?q={order}",
            "/staff/attachments/",
            "/staff/blocked/",
            "/staff/performance/",
            "/staff/customer-service/",
        ],
        SUPERVISOR: ["/staff/audit/"],
    }


def folder() -> Path:
    where = os.environ.get("MARKETMSG_SCREENSHOTS_DIR") or str(
        Path(os.environ.get("MARKETMSG_TEST_DATA_DIR", "var/test")) / "tour"
    )
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


# MIME types and placeholders in parentheses are words for programs, not for people.
JARGON = re.compile(r"\b(?:application|image|text|multipart)/[a-z0-9.+-]+|\((?:address|email|name)\)")

# Text that starts with an emoji and goes on in words, where a screen reader would read the emoji.
SPOKEN_ICONS = """() => {
  const found = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const text = node.textContent.trim(), parent = node.parentElement;
    if (!/^\\p{Extended_Pictographic}\\uFE0F?\\s+\\S/u.test(text)) continue;
    if (parent.closest('[aria-hidden="true"], textarea, option, title, script, style')) continue;
    found.push(text.slice(0, 30));
  }
  return found.slice(0, 5);
}"""

# The innermost elements that reach past the screen's right edge: what makes a page scroll sideways.
WIDEST = """(limit) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > limit + 1 && ![...e.children].some(
      c => c.getBoundingClientRect().right > limit + 1))
  .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""


def serious_findings(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => { const r = await axe.run(document); return [r.passes.length, r.violations]; }"
    )
    passed, violations = result
    assert passed > 10, "axe ran no checks"  # the check itself works: it passed many rules
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_what_it_looks_for(live_server, browser: Browser):
    """The tour's check is real: a page with an unlabelled field and low-contrast text fails it."""
    if not AXE.is_file():
        pytest.skip("axe-core is missing: run `make axe`")
    page = browser.new_page(bypass_csp=True)
    page.set_content(
        '<html lang="en"><body><main><input type="text">'
        '<p style="color:#ccc;background:#fff">faint words</p></main></body></html>'
    )
    found = " ".join(serious_findings(page))
    assert "label" in found and "color-contrast" in found
    page.set_content('<p>📥 メッセージ</p><p><span aria-hidden="true">📤</span> 送信済み</p>')
    assert page.evaluate(SPOKEN_ICONS) == ["📥 メッセージ"]  # the icon check finds what it looks for
    page.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_page_in_both_languages_and_sizes(live_server, browser: Browser, language: str):
    if not AXE.is_file():
        if os.environ.get("MARKETMSG_REQUIRE_NODE_TESTS"):
            pytest.fail("axe-core is missing: `make axe` (CI runs it)")
        pytest.skip("axe-core is missing: run `make axe`")
    pages = tour(world())
    shots, problems = folder(), []
    for size, viewport in SIZES.items():
        for who, paths in pages.items():
            context = browser.new_context(  # bypass_csp: only so that axe can be injected
                locale=f"{language}-JP", viewport=viewport, is_mobile=size == "phone", bypass_csp=True
            )
            page = context.new_page()
            if who:
                sign_in(page, live_server.url, who)
            for path in paths:
                answer = page.goto(live_server.url + path)
                assert answer is not None and answer.status == 200, f"{path} as {who or 'anonymous'}"
                name = re.sub(r"[^a-z0-9]+", "-", f"{who.split('@')[0] or 'anonymous'}{path}".lower()).strip(
                    "-"
                )
                page.screenshot(path=shots / f"{name}-{language}-{size}.png", full_page=True)
                if size == "phone":
                    width = page.evaluate("document.documentElement.scrollWidth")
                    if width > viewport["width"]:
                        wide = page.evaluate(WIDEST, viewport["width"])
                        problems.append(
                            f"{path} ({who or 'anonymous'}, {language}) is {width}px wide: {wide}"
                        )
                problems += [
                    f"{path} ({who or 'anonymous'}, {language}, {size}): {f}" for f in serious_findings(page)
                ]
                spoken = page.evaluate(SPOKEN_ICONS)
                problems += [
                    f"{path} ({who or 'anonymous'}): a screen reader reads the icon in {t!r}" for t in spoken
                ]
                if language == "ja" and size == "desktop":  # no English jargon on a Japanese page
                    jargon = JARGON.findall(page.inner_text("main"))
                    problems += [
                        f"{path} ({who or 'anonymous'}) shows {j!r} on a Japanese page" for j in jargon
                    ]
            context.close()
    assert not problems, "\n".join(problems)


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_keyboard_users_get_a_skip_link_a_focus_ring_and_visible_field_borders(live_server, browser: Browser):
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{live_server.url}/password/reset/")  # (the sign-in page starts in its first field)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert skip.evaluate("e => e === document.activeElement") and skip.is_visible()
    assert skip.inner_text() == "本文へスキップ"
    page.keyboard.press("Tab")  # on to the header's first control: a ring shows where the focus is
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring not in ("none", ""), f"no focus ring ({ring})"
    border = page.evaluate("getComputedStyle(document.querySelector('#id_email')).borderTopColor")
    lighter, darker = sorted([_luminance("rgb(255,255,255)"), _luminance(border)], reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 3, f"the field's border {border} is too faint on white"
    page.close()
