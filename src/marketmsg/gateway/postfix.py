"""Postfix in front of and behind marketmsg: the settings, as data (docs/operations/postfix.md).

In front, Postfix is the MX of the relay domains. It takes mail from the internet, queues it and
hands relay-domain mail to the gateway over SMTP (``transport_maps``). Behind, it is the worker's
smarthost: it takes the relayed mail on a submission port open to marketmsg's hosts only, and
delivers it to the parties' real mailboxes. Its bounces go to our VERP return paths, which are
on the relay domains, so they come back to the gateway like any other mail.

``main_cf`` gives the settings an operator adds to an existing Postfix (``marketmsg
postfix-config`` prints them, ready for ``postconf -e``). ``instance`` adds what a stand-alone,
loopback-only instance needs besides: its own directories, ports and logging. The integration
test and the benchmark run such an instance, so they check the settings the documentation gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PostfixPlan:
    relay_domains: tuple[str, ...]
    gateway: str  # host:port of `marketmsg gateway`
    marketmsg_networks: tuple[str, ...] = ("127.0.0.0/8",)  # the hosts the worker runs on
    # Where Postfix sends the parties' mail; "" = by MX records, as a real MTA does.
    relayhost: str = ""
    hostname: str = "mx.marketplace.example"
    # The authserv-id of Authentication-Results that a milter in front adds (OpenDKIM/OpenDMARC,
    # policyd-spf); marketmsg trusts only this one (MARKETMSG_TRUSTED_AUTHSERV_ID).
    authserv_id: str = ""
    milters: tuple[str, ...] = field(default_factory=tuple)


def main_cf(plan: PostfixPlan) -> dict[str, str]:
    """The main.cf settings: the MX role, which the submission service (master.cf) narrows."""
    gateway = f"smtp:[{_host(plan.gateway)}]:{_port(plan.gateway)}"
    settings = {
        "myhostname": plan.hostname,
        # Mail for the relay domains is accepted for the gateway, and only after the gateway said
        # yes to the recipient (Postfix asks it: reject_unverified_recipient). A mistyped or
        # retired relay address is then refused to the sender's own server, never bounced later.
        "relay_domains": ", ".join(plan.relay_domains),
        "transport_maps": "inline:{ " + ", ".join(f"{d}={gateway}" for d in plan.relay_domains) + " }",
        "relay_recipient_maps": "",
        "mynetworks": ", ".join(plan.marketmsg_networks),
        "smtpd_relay_restrictions": "reject_unauth_destination",
        "smtpd_recipient_restrictions": "reject_unverified_recipient",
        "unverified_recipient_reject_code": "550",
        # The gateway answers 250 only once a message is committed; a 4xx from it (its database
        # away) leaves the mail in Postfix's queue, which tries again.
        "smtp_destination_concurrency_limit": "20",
        "relayhost": plan.relayhost,
        "message_size_limit": str(25 * 1024 * 1024),
    }
    if plan.authserv_id:
        # A sender can write any header: results claiming to be ours are removed on the way in,
        # before the milters add the real ones (header_checks do not see milters' headers).
        authserv = re.escape(plan.authserv_id)
        settings["header_checks"] = (
            "regexp:{ {/^Authentication-Results:[[:space:]]*" + authserv + "([[:space:];]|$$)/i IGNORE} }"
        )
    if plan.milters:
        settings["smtpd_milters"] = ", ".join(plan.milters)
        settings["milter_default_action"] = "tempfail"
    return settings


# The submission service for marketmsg's worker: only its hosts, to any destination, no probing.
SUBMISSION_OPTIONS = (
    "-o smtpd_client_restrictions=permit_mynetworks,reject",
    "-o smtpd_relay_restrictions=permit_mynetworks,reject",
    "-o smtpd_recipient_restrictions=permit_mynetworks,reject",
)


def master_cf(mx_listen: str, submission_listen: str, chroot: bool = True) -> str:
    """The services Postfix needs: the MX smtpd, the worker's submission smtpd, and the rest."""
    c = "y" if chroot else "n"
    submission = [f"{submission_listen} inet n - {c} - - smtpd"] + [f"  {o}" for o in SUBMISSION_OPTIONS]
    return "\n".join(
        [
            f"{mx_listen} inet n - {c} - - smtpd",
            *submission,
            f"pickup unix n - {c} 60 1 pickup",
            f"cleanup unix n - {c} - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            f"rewrite unix - - {c} - - trivial-rewrite",
            f"bounce unix - - {c} - 0 bounce",
            f"defer unix - - {c} - 0 bounce",
            f"trace unix - - {c} - 0 bounce",
            f"verify unix - - {c} - 1 verify",
            f"flush unix n - {c} 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            f"smtp unix - - {c} - - smtp",
            f"relay unix - - {c} - - smtp",
            f"showq unix n - {c} - - showq",
            f"error unix - - {c} - - error",
            f"retry unix - - {c} - - error",
            f"discard unix - - {c} - - discard",
            f"anvil unix - - {c} - 1 anvil",
            f"scache unix - - {c} - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
            "",
        ]
    )


def instance(plan: PostfixPlan, directory: Path, listen: str, retry_seconds: int = 1) -> dict[str, str]:
    # ``listen`` is the host both smtpd services listen on (loopback).
    """main.cf for a stand-alone, loopback-only instance in ``directory`` (tests, benchmarks)."""
    settings = main_cf(plan)
    settings.update(
        {
            "compatibility_level": "3.6",
            "queue_directory": str(directory / "queue"),
            "data_directory": str(directory / "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": listen,
            "inet_protocols": "ipv4",
            "mydestination": "",
            "local_transport": "error:this host delivers no local mail",
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": str(directory / "maillog"),
            "maillog_file_prefixes": str(directory),
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "smtp_dns_support_level": "disabled" if plan.relayhost else "enabled",
            "biff": "no",
            # Quick retries and a short give-up time, so a test sees a deferral resolve.
            "queue_run_delay": f"{retry_seconds}s",
            "minimal_backoff_time": f"{retry_seconds}s",
            "maximal_backoff_time": f"{retry_seconds * 2}s",
            "address_verify_poll_count": "1",  # answer 450 at once while the probe runs
            "address_verify_negative_expire_time": "1s",
            "address_verify_negative_refresh_time": "1s",
            "shlib_directory": "/usr/lib/postfix",
        }
    )
    return settings


def write_instance(
    plan: PostfixPlan, directory: Path, mx_listen: str, submission_listen: str, retry_seconds: int = 1
) -> Path:
    """Writes ``directory/etc/main.cf`` and ``master.cf``; returns the config directory."""
    etc = directory / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (directory / "queue").mkdir(exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    settings = instance(plan, directory, _host(mx_listen), retry_seconds)
    (etc / "main.cf").write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
    (etc / "master.cf").write_text(master_cf(mx_listen, submission_listen, chroot=False))
    return etc


def _host(address: str) -> str:
    return address.rpartition(":")[0] or address


def _port(address: str) -> str:
    return address.rpartition(":")[2]
