from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.accounts.models import User
from marketmsg.demo.management.commands.seed import write_json
from marketmsg.demo.seeding import seed
from marketmsg.integration.models import SCOPES, OperatorCredential


class Command(BaseCommand):
    help = (
        "Run the whole service on one machine: web, SMTP gateway, delivery worker, webhook sender "
        "and a mail catcher."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--web", default="127.0.0.1:8000")
        parser.add_argument("--gateway", default="127.0.0.1:2525")
        parser.add_argument("--catcher", default="127.0.0.1:2526")
        parser.add_argument(
            "--sso",
            metavar="HOST:PORT",
            nargs="?",
            const="127.0.0.1:9400",
            help="also run the test OpenID Connect provider (tests/oidc; needs Node.js and "
            "`make oidc-provider`) and sign in through it; default 127.0.0.1:9400",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        description = Path(settings.DATA_DIR) / "demo.json"
        if not User.objects.exists() or not description.exists():
            result = seed(
                sellers=3,
                buyers=8,
                orders=24,
                messages=40,
                rng_seed=7,
                password="marketmsg",
                mobile_share=0.25,
            )
            with description.open("w", encoding="utf-8") as out:
                write_json(result, out)
        if "operator" not in json.loads(description.read_text(encoding="utf-8")):
            demo_operator(description)
        catcher_dir = Path(settings.DATA_DIR) / "mailcatcher"
        env = dict(
            os.environ,
            MARKETMSG_SMARTHOST=options["catcher"],
            MARKETMSG_MAILCATCHER_DIR=str(catcher_dir),
            MARKETMSG_DATA_DIR=str(settings.DATA_DIR),
            PYTHONUNBUFFERED="1",
        )
        command = [sys.executable, "-m", "marketmsg"]
        children: list[subprocess.Popen[Any]] = []
        if options["sso"]:
            provider, sso_env = start_test_provider(options["sso"], f"http://{options['web']}")
            children.append(provider)
            env.update(sso_env)
        children += [
            subprocess.Popen([*command, "mailcatcher", "--listen", options["catcher"]], env=env),
            subprocess.Popen([*command, "gateway", "--listen", options["gateway"]], env=env),
            subprocess.Popen([*command, "worker"], env=env),
            subprocess.Popen([*command, "webhooks"], env=env),
            subprocess.Popen([*command, "web", "--listen", options["web"], "--workers", "2"], env=env),
        ]
        time.sleep(2)
        self.stdout.write(instructions(json.loads(description.read_text()), options))
        if options["sso"]:
            self.stdout.write(sso_instructions(json.loads(description.read_text()), options))
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        self.stdout.write("demo stopped / デモを終了しました")


def demo_operator(description: Path) -> None:
    """The demo's marketplace operator: an admin account and an operator API credential, noted in
    demo.json so that the README's curl examples can read it."""
    data = json.loads(description.read_text(encoding="utf-8"))
    if not User.objects.filter(email=OPERATOR_EMAIL).exists():
        User.objects.create_superuser(OPERATOR_EMAIL, data["password"], name="運営者 Operator")
    _credential, secret = OperatorCredential.issue("demo marketplace", list(SCOPES))
    data["operator"] = {"email": OPERATOR_EMAIL, "credential": secret}
    description.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


OPERATOR_EMAIL = "operator@marketplace.example"
TEST_PROVIDER = Path(settings.BASE_DIR).parent.parent / "tests" / "oidc"


def start_test_provider(listen: str, web: str) -> tuple[subprocess.Popen[Any], dict[str, str]]:
    """The test OpenID Connect provider as the demo's marketplace and operator, and the settings
    that point the web at it."""
    node = shutil.which("node")
    if node is None or not (TEST_PROVIDER / "node_modules").is_dir():
        raise CommandError(
            "--sso needs Node.js and the test provider's packages: run `make oidc-provider` "
            "/ --sso には Node.js と `make oidc-provider` が必要です"
        )
    port = listen.rpartition(":")[2]
    back = [f"{web}/login/"]
    clients = [
        {"client_id": "marketmsg-demo", "client_secret": "demo-secret",
         "redirect_uris": [f"{web}/sso/marketplace/callback/"], "post_logout_redirect_uris": back},
        {"client_id": "marketmsg-demo-staff", "client_secret": "demo-staff-secret",
         "redirect_uris": [f"{web}/sso/staff/callback/"], "post_logout_redirect_uris": back},
    ]  # fmt: skip
    accounts = {"ops-1": {"marketmsg_role": "staff"}, "boss-1": {"marketmsg_role": "supervisor"}}
    child = subprocess.Popen(
        [node, str(TEST_PROVIDER / "provider.mjs")],
        env=dict(
            os.environ, OIDC_PORT=port, OIDC_CLIENTS=json.dumps(clients), OIDC_ACCOUNTS=json.dumps(accounts)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    if not ready.startswith("ready "):
        raise CommandError(
            f"the test provider did not start on {listen} / テスト用認証サービスを起動できません"
        )
    issuer = ready.split()[1]
    return child, {
        "MARKETMSG_OIDC_ISSUER": issuer,
        "MARKETMSG_OIDC_CLIENT_ID": "marketmsg-demo",
        "MARKETMSG_OIDC_CLIENT_SECRET": "demo-secret",
        "MARKETMSG_STAFF_OIDC_ISSUER": issuer,
        "MARKETMSG_STAFF_OIDC_CLIENT_ID": "marketmsg-demo-staff",
        "MARKETMSG_STAFF_OIDC_CLIENT_SECRET": "demo-staff-secret",
    }


def sso_instructions(data: dict[str, Any], options: dict[str, Any]) -> str:
    seller = data["sellers"][0]
    buyer = data["buyers"][0]
    return f"""
 Sign-in provider (test): http://{options["sso"]}/   any password; the login is the subject
   seller:  {seller.get("owner_subject", "(seed again: rm var/demo.json)")}   buyer: {buyer["key"]}
   staff:   ops-1 (staff), boss-1 (supervisor) through "Staff sign-in"
   unknown: any other login shows the page for an account the message center does not know
================================================================================
"""


def instructions(data: dict[str, Any], options: dict[str, Any]) -> str:
    order = data["orders"][0]
    seller = next(s for s in data["sellers"] if s["id"] == order["seller_id"])
    buyer = next(b for b in data["buyers"] if b["id"] == order["buyer_id"])
    helper = next((s["user_emails"][1] for s in data["sellers"] if len(s["user_emails"]) > 1), "—")
    host, _, port = options["gateway"].rpartition(":")
    web = f"http://{options['web']}"
    swaks = "swaks" if shutil.which("swaks") else "swaks  (apt-get install swaks)"
    return f"""
================================================================================
 marketmsg demo is running / デモを起動しました  (Ctrl-C to stop / Ctrl-C で終了)

 Web:          {web}/          sign in as any seeded person, password "{data["password"]}"
   seller:     {seller["owner_email"]}   ({seller["name"]})
   buyer:      {buyer["email"]}   ({buyer["name"]})
   seller user (not the owner): {helper}
   staff:      {data["staff"][0]["email"]}   supervisor: {data["staff"][-1]["email"]}
   operator:   {data["operator"]["email"]}   (the operator admin: {web}/admin/)
 Operator API: {web}/api/operator/v1/docs   credential: {data["operator"]["credential"]}
 Mail catcher: {web}/mailcatcher/   (what the real mailboxes would receive)
 SMTP gateway: {options["gateway"]}
 Everything seeded: {settings.DATA_DIR}/demo.json

 1. The buyer writes to the seller's relay address about order {order["order_id"]}:
    {swaks} --server {host} --port {port} --from {buyer["email"]} \\
      --to {order["seller_relay_address"]} \\
      --header "Subject: 注文 {order["order_id"]} について" --body "いつ発送されますか？ {buyer["email"]}"
 2. Open the mail catcher: the seller got it from {order["buyer_relay_address"]},
    and the buyer's real address is gone from the body too.
 3. The seller answers from their own mail client:
    {swaks} --server {host} --port {port} --from {seller["owner_email"]} \\
      --to {order["buyer_relay_address"]} \\
      --header "Subject: Re: 注文 {order["order_id"]} について" --body "明日発送します。"
 4. A stranger writing to the buyer is held (250, not delivered) until the owner approves:
    {swaks} --server {host} --port {port} --from someone@elsewhere.example \\
      --to {order["buyer_relay_address"]} --body "hello"
 5. An unknown relay address is refused at RCPT with 550 5.1.1:
    {swaks} --server {host} --port {port} --from {buyer["email"]} --to 0000000000000000@{data["relay_domain"]}
 6. On the web: sign in as the seller at {web}/ — the message center shows the buyer's
    message under 「返信が必要」; open it and reply, or tick 「返信不要としてマーク」. The mail in the
    mail catcher carries the "no reply needed" link too. Sign in as the buyer to contact a seller
    about an order ({web}/my/orders/) or ask about a product ({web}/my/ask/).
================================================================================
"""
