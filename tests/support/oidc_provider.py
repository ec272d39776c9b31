"""A real OpenID Connect provider on loopback (tests/oidc/provider.mjs, the `oidc-provider` npm
package), and a scripted sign-in through it for tests that need a provider's own tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

HERE = Path(__file__).resolve().parent.parent / "oidc"
# Accounts with claims beyond the default ones; any other login is a plain account of that name.
ACCOUNTS = {
    "ops-1": {"marketmsg_role": "staff", "name": "Ops One"},
    "boss-1": {"marketmsg_role": "supervisor", "name": "Boss One"},
}


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    clients: dict[str, Client]


@contextmanager
def running_provider(port: int, clients: list[Client], post_logout: list[str]) -> Iterator[RunningProvider]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        if os.environ.get("MARKETMSG_REQUIRE_NODE_TESTS"):
            pytest.fail("the test OpenID provider needs Node.js and `make oidc-provider` (CI installs both)")
        pytest.skip("Node.js or tests/oidc/node_modules is missing: run `make oidc-provider`")
    env = dict(
        os.environ,
        OIDC_PORT=str(port),
        OIDC_ACCOUNTS=json.dumps(ACCOUNTS),
        OIDC_CLIENTS=json.dumps(
            [
                {
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "redirect_uris": [c.redirect_uri],
                    "post_logout_redirect_uris": post_logout,
                }
                for c in clients
            ]
        ),
    )
    child = subprocess.Popen(
        [node, str(HERE / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until it listens (or dies: then the line is empty)
        assert line.startswith("ready "), f"the test provider did not start: {line!r}"
        yield RunningProvider(line.split()[1], {c.client_id: c for c in clients})
    finally:
        child.terminate()
        child.wait(timeout=30)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def code_for(provider: RunningProvider, client: Client, login: str) -> tuple[str, str]:
    """Signs ``login`` in at the provider for ``client`` (the development form, as a browser
    would) and returns the authorization code the provider sent to the client, with its PKCE
    verifier. The redirect to the client is not followed."""
    session = requests.Session()
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "client_id": client.client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": client.redirect_uri,
            "state": secrets.token_urlsafe(16),
            "nonce": "n-" + secrets.token_urlsafe(8),
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    answer = session.get(f"{provider.issuer}/auth?{query}", timeout=30)
    form = re.search(r'action="([^"]+)"', answer.text)
    assert form, answer.text[:500]
    answer = session.post(
        urljoin(answer.url, form.group(1)),
        data={"prompt": "login", "login": login, "password": "any"},
        allow_redirects=False,
        timeout=30,
    )
    while answer.is_redirect:
        location = urljoin(answer.url, answer.headers["Location"])
        if location.startswith(client.redirect_uri):
            return parse_qs(urlsplit(location).query)["code"][0], verifier
        answer = session.get(location, allow_redirects=False, timeout=30)
    raise AssertionError(f"no code came back: {answer.status_code} {answer.text[:300]}")


def id_token_for(provider: RunningProvider, client: Client, login: str) -> str:
    """An ID token the provider issued to ``client`` for ``login``."""
    code, verifier = code_for(provider, client, login)
    answer = requests.post(
        f"{provider.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(client.client_id, client.client_secret),
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["id_token"])
