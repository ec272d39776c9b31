"""``marketmsg postfix-config``: the Postfix settings for the relay domains, ready to apply."""

from __future__ import annotations

import shlex
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from marketmsg.gateway.postfix import SUBMISSION_OPTIONS, PostfixPlan, main_cf


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Print the Postfix settings that put Postfix in front of the gateway (MX for the relay "
        "domains) and behind the worker (its smarthost). See docs/operations/postfix.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gateway", default="127.0.0.1:2525", help="where `marketmsg gateway` listens")
        parser.add_argument("--hostname", default=f"mx.{settings.RELAY_DOMAIN}", help="Postfix's myhostname")
        parser.add_argument(
            "--network",
            action="append",
            default=[],
            help="a network of marketmsg's hosts, allowed to submit relayed mail (repeatable; "
            "default 127.0.0.0/8)",
        )
        parser.add_argument("--submission", default="127.0.0.1:10587", help="the worker's submission port")
        parser.add_argument("--authserv-id", default="", help="the authserv-id your milters write")
        parser.add_argument(
            "--milter", action="append", default=[], help="a milter, e.g. inet:127.0.0.1:8891"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan = PostfixPlan(
            relay_domains=(settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN),
            gateway=options["gateway"],
            marketmsg_networks=tuple(options["network"]) or ("127.0.0.0/8",),
            hostname=options["hostname"],
            authserv_id=options["authserv_id"],
            milters=tuple(options["milter"]),
        )
        out = self.stdout
        out.write("# 1. main.cf: run these (as root), then `postfix reload`.")
        for key, value in main_cf(plan).items():
            if key == "relayhost" and not value:
                continue  # deliver by MX records: Postfix's default
            out.write("postconf -e " + shlex.quote(f"{key} = {value}"))
        out.write("\n# 2. master.cf: add the submission service the worker sends to.")
        out.write(f"{options['submission']} inet n - y - - smtpd")
        for option in SUBMISSION_OPTIONS:
            out.write(f"  {option}")
        out.write(
            f"\n# 3. marketmsg: MARKETMSG_SMARTHOST={options['submission']}"
            + (f" MARKETMSG_TRUSTED_AUTHSERV_ID={plan.authserv_id}" if plan.authserv_id else "")
        )
