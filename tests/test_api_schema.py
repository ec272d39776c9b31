"""Schemathesis against the live API (SPEC F12): it reads /api/v1/openapi.json, generates requests
for every operation (valid and invalid ones), and fails on any server error or any response that
the document does not describe. The server is Django's live server on a seeded database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from marketmsg.accounts.models import ApiToken, SellerUser
from marketmsg.demo.seeding import seed
from marketmsg.integration.models import SCOPES, OperatorCredential

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.db
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
    live_server, settings, tmp_path: Path
):
    settings.API_RATE_LIMIT = 100_000  # schemathesis makes thousands of requests in a minute
    seed(sellers=2, buyers=6, orders=12, messages=40, password="x")
    owner = SellerUser.objects.filter(is_owner=True).select_related("user").order_by("pk").first()
    assert owner is not None
    _token, secret = ApiToken.issue(owner.user, "schemathesis", ["read", "write"])
    output = schemathesis(f"{live_server.url}/api/v1/openapi.json", secret, tmp_path)
    # Every operation of the document was exercised, not skipped.
    summary = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary and len(set(summary.groups())) == 1 and int(summary.group(1)) >= 16, output[-3000:]
    assert cases and cases.group(1) == cases.group(2) and int(cases.group(1)) >= 500, output[-3000:]
    sys.stderr.write("\n" + output[output.find("API Operations") :][:1500] + "\n")


@pytest.mark.db
def test_schemathesis_on_the_operator_api(live_server, settings, tmp_path: Path):
    settings.OPERATOR_RATE_LIMIT = 100_000
    seed(sellers=2, buyers=6, orders=12, messages=10, password="x")
    _credential, secret = OperatorCredential.issue("schemathesis", list(SCOPES))
    output = schemathesis(f"{live_server.url}/api/operator/v1/openapi.json", secret, tmp_path)
    summary = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert summary and len(set(summary.groups())) == 1 and int(summary.group(1)) >= 15, output[-3000:]


def schemathesis(url: str, secret: str, reports: Path) -> str:
    """Runs schemathesis on the document at ``url``; its output, after asserting it passed."""
    program = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [
            str(program),
            "run",
            url,
            "--header",
            f"Authorization: Bearer {secret}",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--report-dir",
            str(reports),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    return output
