"""People: buyers, seller accounts with their users, and marketplace staff."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def unusable_password() -> str:
    """What make_password(None) stores (an unusable password: these people sign in through the
    marketplace), from one call for random bytes instead of forty: imports create users by the
    hundred thousand."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True, role=User.Role.STAFF)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in: a buyer, a seller user (owner or staff of a shop) or marketplace staff.

    One address is one person: a shopkeeper who also shops has one User with both a Buyer and a
    SellerUser (ADR 18). ``role`` is only where they land after signing in; what they may open
    follows the profiles they have (web.access).
    """

    class Role(models.TextChoices):
        BUYER = "buyer", _("Buyer")
        SELLER = "seller", _("Seller")
        STAFF = "staff", _("Marketplace staff")

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    # The marketplace's own ID for this person (operator API: a seller user's external_id); the
    # marketplace's sign-in provider names them by it (sso). A buyer's is Buyer.external_id.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    # Marketplace staff who may read the audit log of every staff member's looks and actions.
    is_supervisor = models.BooleanField(default=False, db_default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Erased on request (retention.erasure): the address and name are placeholders, sign-in is off,
    # and the operator API refuses to bring the person back under the same external_id.
    erased_at = models.DateTimeField(null=True, blank=True)
    # Times on every page are shown in this zone (stored in UTC); Japanese sellers are the default.
    time_zone = models.CharField(max_length=64, default="Asia/Tokyo")
    # The pages' language when the browser has not chosen one (the language switch sets a cookie).
    language = models.CharField(
        max_length=2, choices=[("ja", "日本語"), ("en", "English")], default="ja", db_default="ja"
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Buyer(models.Model):
    """A shopper. Their real address is the e-mail they sign in with."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="buyer")
    # The marketplace's own stable ID for this shopper (operator API, import); None when seeded.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # A mobile-carrier address gets relay addresses on the mobile relay domain.
    is_mobile = models.BooleanField(default=False)
    # Opted out of messages a seller starts unprompted (SPEC F10); answers and order problems still come.
    declines_unprompted = models.BooleanField(default=False, db_default=False)

    def __str__(self) -> str:
        return self.user.name

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def name(self) -> str:
        return self.user.name


class SellerAccount(models.Model):
    """A shop. Its people are SellerUser rows; exactly one of them is the account owner."""

    name = models.CharField(max_length=200, help_text="Shop name shown to buyers.")
    # The marketplace's own stable ID for this shop (operator API, import); None when seeded.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # Comma-separated addresses that receive buyer mail; empty means the owner's address.
    notification_emails = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # FBA settings › Product support (SPEC F9): off, marketplace customer service answers buyers
    # about FBA orders; on, product questions come to the seller. Changes: SellerSettingChange.
    fba_product_support = models.BooleanField(default=False, db_default=False)

    def __str__(self) -> str:
        return self.name

    def remember_owner_emails(self, emails: list[str]) -> None:
        """Lets a caller that has just read the owner's address spare notification_addresses a query."""
        self._owner_emails = emails

    def notification_addresses(self) -> list[str]:
        configured = [a.strip().lower() for a in self.notification_emails.split(",") if a.strip()]
        if configured:
            return configured
        known: list[str] | None = getattr(self, "_owner_emails", None)
        if known:
            return known
        return list(self.members.filter(is_owner=True).values_list("user__email", flat=True))


class SellerUser(models.Model):
    account = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="members")
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="seller_membership")
    is_owner = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(is_owner=True), name="one_owner_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.email} @ {self.account.name}"


class SellerSettingChange(models.Model):
    """Who changed which shop setting, when, from what to what. Never edited or deleted."""

    account = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="setting_changes")
    setting = models.CharField(max_length=50)
    old_value = models.CharField(max_length=200)
    new_value = models.CharField(max_length=200)
    changed_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)


class AccountMail(models.Model):
    """Mail about a person's account (a password link, an invitation), written here first and sent
    by the delivery worker through the smarthost, with retries: the page that asked for it answers
    the same whether or not the address has an account, and a smarthost that is away loses nothing.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=20)  # password_reset, invitation
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    text = models.TextField()
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_reply = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} mail {self.pk} ({self.state})"


# --- bearer keys: sellers' API tokens (and, in integration, operator credentials) -------------

PREFIX = "mm_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BearerKey(models.Model):
    """What every bearer key has, a seller's token or an operator credential: shown once, kept
    as a digest, scoped, revocable, and counted by the one rate limiter (api.limits)."""

    name = models.CharField(max_length=100)
    # The first characters, so that people can tell their keys apart; never enough to use one.
    shown_prefix = models.CharField(max_length=14)
    token_digest = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=100, default="read")  # space-separated
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_prefix}…)"

    def allows(self, scope: str) -> bool:
        return scope in self.scopes.split()


class ApiToken(BearerKey):
    """A seller user's personal API token (SPEC F12): shown once, stored as a SHA-256 digest. It
    lives with the people it belongs to, so the pages that manage it (web) and the API that reads
    it (api) both depend on accounts rather than on each other."""

    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "write"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")

    class Meta:
        db_table = "api_apitoken"  # made by the api app before the model moved here

    @classmethod
    def issue(cls, user: User, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
        """A new token and its secret, which is shown once and never stored."""
        secret = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            shown_prefix=secret[:10],
            token_digest=digest(secret),
            scopes=" ".join(s for s in ("read", "write") if s in scopes),
        )
        return token, secret
