"""Every URL × every role (SPEC §4, isolation). Each page is asked for by anonymous, the buyer of
the order, another buyer, a seller user (not the owner), the owner, another shop's owner, staff
and a supervisor. What each may do is written once in EXPECTED below. The test fails if a URL of
the project is missing from it, so a new page cannot land without its row.

Rules the answers follow: anonymous is sent to sign in; anything else a role may not see is
`404` (a guessed ID must not confirm that the thing exists); a form that only takes POST answers
`405` to GET for those who may use it. A denied POST changes nothing.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from marketmsg.accounts.models import ApiToken
from marketmsg.conversations.models import Attachment, Message, Template
from marketmsg.orders.models import Claim
from tests.support.access_matrix import (
    EXPECTED,
    PARTIES,
    ROLES,
    SECRET_TEXT,
    STAFF,
    world,
)

pytestmark = [pytest.mark.db, pytest.mark.django_db]

# Served by other code with checks of their own: the API (tests/test_api.py, test_api_schema.py),
# the operator API (operator credentials only: tests/test_operator_api.py), Django's admin (staff
# flag: tests/test_operator_admin.py), the language switch (any visitor) and static files.
NOT_PAGES = ("api/v1/", "api/operator/v1/", "admin/", "i18n/")


def project_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if not any(route.startswith(skip) for skip in NOT_PAGES):
                    walk(entry.url_patterns, route)
            elif entry.name:
                names.add(entry.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_url_of_the_project_has_a_row_in_the_matrix():
    assert project_url_names() == set(EXPECTED)


def test_each_role_gets_exactly_the_pages_it_may_see():
    clients, values = world()
    # The marker is real: the parties do see it, so its absence elsewhere means something.
    own_page = clients["buyer"].get(f"/my/messages/{values['conversation']}/")
    assert SECRET_TEXT in own_page.content.decode()
    wrong: list[str] = []
    for name, rule in EXPECTED.items():
        url = rule.path.format(**values)
        for role in ROLES:
            answer = clients[role].get(url)
            if role in rule.allowed or role in rule.reach:
                expected = {405} if rule.post_only else set(rule.ok)
            elif role == "anonymous" and not rule.public:
                expected = {302}
            else:
                expected = {404}
            if answer.status_code not in expected:
                wrong.append(f"{name} GET {url} as {role}: {answer.status_code}, wanted {sorted(expected)}")
            elif answer.status_code == 302 and answer["Location"].startswith("/login/") != (
                role == "anonymous"
            ):
                wrong.append(f"{name} GET {url} as {role} was sent to {answer['Location']}")
            # Whatever the answer, only the conversation's parties and staff see its words.
            if role not in PARTIES | STAFF and SECRET_TEXT in answer.content.decode("utf-8", "replace"):
                wrong.append(f"{name} GET {url} as {role} showed the buyer's message")
    assert not wrong, "\n".join(wrong)


def test_a_denied_post_changes_nothing():
    clients, values = world()
    posts = {
        "api-token-revoke": {},
        "template-delete": {},
        "staff-claim-decide": {"decision": "buyer", "note": "x"},
        "staff-remove-attachment": {"reason": "x"},
        "staff-customer-answer": {"action": "answer", "text": "x"},
    }

    def state() -> tuple[object, ...]:
        return (
            ApiToken.objects.filter(revoked_at__isnull=True).count(),
            Template.objects.count(),
            Claim.objects.filter(decision=Claim.Decision.OPEN).count(),
            Attachment.objects.filter(removed_at__isnull=True).count(),
            Message.objects.count(),
        )

    before = state()
    wrong = []
    for name, data in posts.items():
        rule = EXPECTED[name]
        url = rule.path.format(**values)
        for role in ROLES:
            if role in rule.allowed:
                continue
            answer = clients[role].post(url, data)
            wanted = 302 if role == "anonymous" else 404
            if answer.status_code != wanted:
                wrong.append(f"{name} POST as {role}: {answer.status_code}, wanted {wanted}")
    assert not wrong, "\n".join(wrong)
    assert state() == before
