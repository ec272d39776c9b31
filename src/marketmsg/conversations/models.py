"""Conversations and the messages in them: the one store every channel writes to."""

from __future__ import annotations

from django.db import models
from django.db.models import Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.blobs.store import storage as blob_storage
from marketmsg.orders.models import Order


class Conversation(models.Model):
    """Messages between one buyer and one seller about one order, one product (ASIN), or in general."""

    seller = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="conversations")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="conversations")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT)
    asin = models.CharField(max_length=40, blank=True, default="")  # a product ID
    created_at = models.DateTimeField(default=timezone.now)
    # When the buyer last opened it on the web: what arrived since is new to them. Written by the
    # buyer's page view only, never by the mail path (ADR 5).
    buyer_read_at = models.DateTimeField(null=True, blank=True)
    # No "last message at" column: lists sort messages by the (conversation, created_at) index, and
    # keeping such a column current cost every stored mail an update of two random pages (ADR 5).

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "buyer", "order"],
                condition=models.Q(order__isnull=False),
                name="one_conversation_per_order",
            ),
            models.UniqueConstraint(
                fields=["seller", "buyer", "asin"],
                condition=models.Q(order__isnull=True),
                name="one_conversation_per_product_or_general",
            ),
        ]
        indexes = [
            # The seller's search by ASIN finds questions asked before purchase (no order) here.
            models.Index(
                fields=["seller", "asin"],
                condition=models.Q(order__isnull=True),
                name="conversation_seller_asin",
            )
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.order_id or self.asin or 'general'})"


class Message(models.Model):
    class Author(models.TextChoices):
        BUYER = "buyer", _("Buyer")
        SELLER = "seller", _("Seller")
        MARKETPLACE = "marketplace", _("Marketplace")

    class Channel(models.TextChoices):
        MAIL = "mail", _("Mail")
        WEB = "web", "Web"
        API = "api", "API"
        SYSTEM = "system", _("System")

    class State(models.TextChoices):
        RELAYED = "relayed", _("Relayed")
        HELD = "held", _("Held")
        BLOCKED = "blocked", _("Blocked")
        # A buyer's message about an FBA order that marketplace customer service answers (SPEC F9).
        CUSTOMER_SERVICE = "cs_queue", _("Customer service")
        SUPPRESSED = "suppressed", _("Auto-reply suppressed")
        # Held from an unknown sender address that the account owner then blocked: never delivered.
        WITHHELD = "withheld", _("Not delivered (sender blocked)")

    # No single-column index: (conversation, created_at) below serves every look-up by conversation.
    # Fewer indexes also shorten the write every stored mail makes under SQLite's one write lock.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    # The conversation's seller, copied here so that a seller's lists read one index range in time
    # order instead of visiting each of their thousands of conversations and sorting (ADR 6).
    seller = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    author = models.CharField(max_length=11, choices=Author.choices)
    channel = models.CharField(max_length=6, choices=Channel.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RELAYED)
    # The real address it came from (mail) or the signed-in user (web, API). Never shown to the other party.
    sender_email = models.EmailField(blank=True, default="")
    sender_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, db_index=False)
    subject = models.CharField(max_length=998, blank=True, default="")
    # Scrubbed of real addresses; html is sanitized. The raw MIME keeps the original for disputes.
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="")
    has_attachments = models.BooleanField(default=False)
    is_auto = models.BooleanField(default=False, help_text="Auto-reply, vacation notice or system notice.")
    needs_reply = models.BooleanField(default=False)
    # Set when a seller user said this buyer message needs no answer (SPEC F4): by the reply form's
    # checkbox or by the signed link in the relayed mail (then there is no user).
    marked_no_reply_at = models.DateTimeField(null=True, blank=True)
    marked_no_reply_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, db_index=False)
    # Threading: the sender's own Message-ID (as received) and ours (as the recipient sees it).
    incoming_message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    outbound_message_id = models.CharField(max_length=255, unique=True)
    raw_sha256 = models.CharField(max_length=64, blank=True, default="")
    raw_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The communication guidelines' decision (SPEC F10): what was found, with severity and position,
    # and the names of the rules that blocked the message or removed words from it.
    # db_default too: bulk loaders (the seeder) insert rows without these columns.
    guideline_findings = models.JSONField(default=list, db_default=Value([], models.JSONField()), blank=True)
    guideline_rules = models.CharField(max_length=200, blank=True, default="", db_default="")
    # How long a buyer message needing a reply waited for its first answer (SPEC F6); written by
    # post_message when the seller answers, read by metrics.response_times. (The moment of the
    # answer is created_at plus this; it is not stored twice.)
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Why a seller started the conversation ("contact buyer"): an order problem passes a buyer's opt-out.
    reason = models.CharField(max_length=20, blank=True, default="", db_default="")
    # The tamper-evident record (SPEC F11): a hash over this message's content and the previous
    # message's record_hash in its conversation (conversations.record). Empty for messages stored
    # before the record existed.
    record_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    # SHA-256 of the message's canonical content (conversations.record): the chain commits to it,
    # so the record stays verifiable after the content is erased or purged (ADR 22).
    content_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    redacted_at = models.DateTimeField(null=True, blank=True)
    redacted_because = models.CharField(max_length=20, blank=True, default="", db_default="")
    # Mail only: the sender-authentication verdict (SPF, DKIM, DMARC) the gateway found, for staff.
    authentication = models.JSONField(
        default=dict, blank=True, db_default=models.Value({}, models.JSONField())
    )

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            # The head of a conversation's record chain (its latest message by id), which every
            # stored message reads: one seek, where the index above made SQLite read and sort every
            # message of the conversation, a cost that grew with the conversation.
            models.Index(fields=["conversation", "id"], name="message_record_chain"),
            # Response-time figures: a seller's buyer messages in time order, with every column the
            # figures test, so that they are computed from the index alone (metrics.response_times).
            models.Index(
                fields=[
                    "seller",
                    "created_at",
                    "response_seconds",
                    "needs_reply",
                    "marked_no_reply_at",
                    "state",
                ],
                condition=models.Q(author="buyer", is_auto=False),
                name="message_seller_responses",
            ),
            # Staff review of blocked messages, newest first; few rows, so a small partial index.
            models.Index(
                fields=["created_at"], condition=models.Q(state="blocked"), name="message_blocked_time"
            ),
            # Received / Sent lists, the period filters and the search by the seller's own address;
            # the flags the filters test are columns too (the state: a buyer message answered by
            # customer service is not the seller's), so a scan in time order never reads the table.
            models.Index(
                fields=["seller", "author", "created_at", "needs_reply", "has_attachments", "state"],
                name="message_seller_box",
            ),
            # The median response time (metrics.median): a seller's answered messages by
            # response time, so that one bucket of them is read in order.
            models.Index(
                fields=["seller", "response_seconds", "created_at"],
                condition=models.Q(response_seconds__isnull=False),
                name="message_seller_answered",
            ),
            # "Response needed": only the messages still waiting, so the index stays small; it holds
            # needs_reply as a column too, so that counting never reads the table.
            models.Index(
                fields=["seller", "author", "created_at", "needs_reply"],
                condition=models.Q(needs_reply=True),
                name="message_seller_awaiting",
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} by {self.author}"


class Attachment(models.Model):
    """A file that travels with a web or API message, stored through Django's storage API.

    Images are stored without their metadata; what the sender uploaded is not kept. A file the
    marketplace removed leaves this row as a tombstone (who, when, why) and no file.
    """

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # The blob store's name for the file (blobs.store); blank once removed by staff or retention.
    file = models.FileField(
        upload_to="attachments/%Y/%m/", max_length=255, blank=True, storage=blob_storage, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    removed_reason = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.filename


class Template(models.Model):
    """A seller's saved reply text (定型文), with placeholders filled in on insertion (SPEC F5)."""

    account = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=100)
    text = models.TextField()
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="one_template_name_per_shop")]

    def __str__(self) -> str:
        return self.name


class RawMime(models.Model):
    """The message exactly as received, kept for disputes. The bytes are a blob in the store
    (``blob``, written before this row commits; ADR 21); rows from before the store hold them in
    ``data`` until ``marketmsg migrate-blobs`` moves them. Retention and erasure remove the bytes
    and keep the row saying when and why."""

    message = models.OneToOneField(Message, on_delete=models.PROTECT, primary_key=True, related_name="raw")
    data = models.BinaryField(null=True, blank=True)
    blob = models.CharField(max_length=100, blank=True, default="", db_default="", db_index=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=20, blank=True, default="", db_default="")


class ResponseTally(models.Model):
    """What a seller's counted buyer messages that arrived in one 15-minute slot came to: kept by
    ``post_message`` and the "no reply needed" marks (metrics.tally, ADR 9)."""

    seller = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, db_index=False, related_name="+")
    slot = models.BigIntegerField(help_text="Unix time // 900 of the messages' arrival")
    received = models.IntegerField(default=0)
    on_time = models.IntegerField(default=0)
    answered_late = models.IntegerField(default=0)
    seconds_sum = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["seller", "slot"], name="tally_seller_slot")]
        indexes = [  # the performance page adds up thousands of slots from the index alone
            models.Index(
                fields=["seller", "slot", "received", "on_time", "answered_late", "seconds_sum"],
                name="tally_seller_slot_counts",
            )
        ]

    def __str__(self) -> str:
        return f"tally of seller {self.seller_id}, slot {self.slot}"


class ResponseBucket(models.Model):
    """How many of a seller's answers on one UTC day (by the question's arrival) took a response
    time within one bucket: the first step to the median (metrics.median, ADR 9)."""

    seller = models.ForeignKey(SellerAccount, on_delete=models.CASCADE, db_index=False, related_name="+")
    day = models.IntegerField(help_text="Unix time // 86400 of the messages' arrival")
    bucket = models.SmallIntegerField()
    answers = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["seller", "day", "bucket"], name="bucket_seller_day_bucket")
        ]
        indexes = [
            models.Index(fields=["seller", "day", "bucket", "answers"], name="bucket_seller_day_counts")
        ]

    def __str__(self) -> str:
        return f"bucket {self.bucket} of seller {self.seller_id}, day {self.day}"


class BlobRelease(models.Model):
    """A blob a row stopped naming (retention, erasure, staff removal), written in the same
    transaction as that change and removed from the store after it commits (conversations.stored).
    A crash in between leaves this row, so the next ``marketmsg purge`` finishes the removal."""

    name = models.CharField(max_length=255)
    queued_at = models.DateTimeField(default=timezone.now)
