"""Response-time figures (SPEC F6) over hand-built timelines with a controlled clock, and FBA
routing to marketplace customer service (SPEC F9) by web and by mail."""

from __future__ import annotations

import json
import random
import statistics
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from marketmsg.accounts.models import ApiToken, SellerSettingChange, SellerUser, User
from marketmsg.conversations import compose
from marketmsg.conversations.listing import ListQuery, messages_for
from marketmsg.conversations.models import Message, ResponseBucket, ResponseTally
from marketmsg.delivery.models import Delivery
from marketmsg.metrics import median, response_times, tally
from marketmsg.relay import inbound
from tests.support.delivery import deliver_all
from tests.support.mail import compose as mail
from tests.support.mail import everything_readable
from tests.support.personas import PASSWORD, make_order, make_pair

TOKYO = ZoneInfo("Asia/Tokyo")
OWNER = "owner@sakura-books.example.jp"
BUYER = "taro.yamada@example.jp"

pytestmark = [pytest.mark.db, pytest.mark.django_db]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, moment: datetime) -> Clock:
        self.now = moment
        return self

    def advance(self, **delta: float) -> Clock:
        self.now += timedelta(**delta)
        return self


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """timezone.now() as the test sets it: post_message stamps messages and answers with it."""
    moment = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO))  # a Monday
    monkeypatch.setattr(timezone, "now", lambda: moment.now)
    return moment


def buyer_mail(pair, body: str = "質問です", subject: str = "", **headers: str) -> Message:
    subject = subject or f"注文 {pair.order.order_id} について"
    receipt = inbound.receive(
        mail(BUYER, pair.seller_relay, subject, body, **headers), BUYER, [pair.seller_relay]
    )
    return Message.objects.get(pk=receipt.message_ids[0])


def seller_mail(pair, body: str = "お答えします", **headers: str) -> Message:
    receipt = inbound.receive(
        mail(OWNER, pair.buyer_relay, f"Re: 注文 {pair.order.order_id} について", body, **headers),
        OWNER,
        [pair.buyer_relay],
    )
    return Message.objects.get(pk=receipt.message_ids[0])


def seller_web_reply(message: Message, text: str = "お答えします") -> Message:
    user = User.objects.get(email=OWNER)
    sent = compose.seller_reply(user, message.conversation, text)
    assert sent is not None
    return sent


def test_on_time_late_and_unanswered_give_the_shares_average_and_median(clock):
    pair = make_pair()
    on_time = buyer_mail(pair)
    clock.advance(hours=2)
    seller_web_reply(on_time)  # by web: 2 h
    clock.advance(hours=1)
    late = buyer_mail(pair, "二つ目")
    clock.advance(hours=30)
    seller_mail(pair)  # by mail: 30 h
    overdue = buyer_mail(pair, "三つ目")
    clock.advance(hours=25)
    waiting = buyer_mail(pair, "四つ目")
    clock.advance(hours=1)
    figures = response_times.figures(pair.seller.pk, 7, clock.now)
    assert (figures.on_time, figures.answered_late, figures.overdue, figures.waiting) == (1, 1, 1, 1)
    assert figures.share_on_time == pytest.approx(1 / 3) and figures.share_late == pytest.approx(2 / 3)
    assert figures.average_seconds == pytest.approx((2 + 30) * 3600 / 2)
    assert figures.median_seconds == 2 * 3600  # the lower of two
    assert figures.unanswered == 2
    for answered, seconds in ((on_time, 7200), (late, 30 * 3600)):
        answered.refresh_from_db()
        assert answered.response_seconds == seconds and not answered.needs_reply
    assert {overdue.pk, waiting.pk} == set(
        Message.objects.filter(response_seconds__isnull=True, needs_reply=True).values_list("pk", flat=True)
    )


def test_marked_no_reply_needed_after_being_late_is_not_counted(clock):
    pair = make_pair()
    message = buyer_mail(pair)
    clock.advance(hours=40)
    assert response_times.figures(pair.seller.pk, 7, clock.now).overdue == 1
    assert compose.mark_no_reply_needed(message, User.objects.get(email=OWNER))
    figures = response_times.figures(pair.seller.pk, 7, clock.now)
    assert figures.due == 0 and figures.unanswered == 0 and figures.share_on_time is None


def test_auto_replies_neither_count_nor_answer(clock):
    pair = make_pair()
    question = buyer_mail(pair)
    buyer_mail(
        pair, "不在です", subject="自動応答", Auto_Submitted="auto-replied"
    )  # the buyer's vacation notice
    clock.advance(hours=1)
    seller_mail(pair, "休暇中です", Auto_Submitted="auto-replied")  # the seller's vacation notice
    question.refresh_from_db()
    assert question.needs_reply and question.response_seconds is None
    clock.advance(hours=3)
    seller_web_reply(question)
    question.refresh_from_db()
    assert question.response_seconds == 4 * 3600
    figures = response_times.figures(pair.seller.pk, 7, clock.now)
    assert (figures.on_time, figures.due) == (1, 1)


def test_a_weekend_counts_friday_evening_to_monday_morning_is_late(clock):
    pair = make_pair()
    clock.at(datetime(2026, 11, 6, 20, 0, tzinfo=TOKYO))  # Friday
    question = buyer_mail(pair)
    clock.at(datetime(2026, 11, 9, 9, 0, tzinfo=TOKYO))  # Monday
    seller_web_reply(question)
    figures = response_times.figures(pair.seller.pk, 7, clock.now)
    assert (figures.on_time, figures.answered_late) == (0, 1)
    assert figures.median_seconds == 61 * 3600


def test_the_windows_end_exactly_at_their_edges(clock):
    pair = make_pair()
    start = clock.now
    for days in (7, 30, 90):
        clock.at(start - timedelta(days=days))
        buyer_mail(pair, f"{days}")  # exactly on the edge: inside
        clock.at(start - timedelta(days=days, seconds=1))
        buyer_mail(pair, f"{days}+1s")  # one second before: outside
    clock.at(start)
    counts = {d: response_times.figures(pair.seller.pk, d, start).overdue for d in (7, 30, 90)}
    assert counts == {7: 1, 30: 3, 90: 5}


def test_a_window_that_begins_inside_a_slot_counts_from_its_exact_second(clock):
    pair = make_pair()
    start = datetime(2026, 11, 20, 9, 7, 13, tzinfo=TOKYO)  # 7 days before is inside a slot
    clock.at(start - timedelta(days=7, seconds=1))
    buyer_mail(pair, "一秒前")
    clock.advance(seconds=1)
    buyer_mail(pair, "ちょうど")
    clock.advance(hours=1)
    seller_web_reply(Message.objects.filter(author=Message.Author.BUYER).first())  # answers both
    figures = response_times.figures(pair.seller.pk, 7, start)
    assert (figures.on_time, figures.average_seconds, figures.median_seconds) == (1, 3600, 3600)
    assert response_times.figures(pair.seller.pk, 30, start).average_seconds == 3600.5


def buckets_of(seller_id: int) -> list[tuple[int, int, int]]:
    return sorted(ResponseBucket.objects.filter(seller_id=seller_id).values_list("day", "bucket", "answers"))


def tally_of(seller_id: int) -> list[tuple[int, int, int, int, int]]:
    return sorted(
        ResponseTally.objects.filter(seller_id=seller_id).values_list(
            "slot", "received", "on_time", "answered_late", "seconds_sum"
        )
    )


def test_the_kept_tally_is_what_a_recount_of_the_stored_messages_gives(clock):
    pair = make_pair()
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")  # product support is off
    slot = tally.slot_of(clock.now)
    first = buyer_mail(pair)
    clock.advance(minutes=7)  # the same slot
    buyer_mail(pair, "二つ目")
    buyer_mail(pair, "不在です", subject="自動応答", Auto_Submitted="auto-replied")  # not counted
    clock.advance(hours=25)
    seller_web_reply(first)  # answers both, late
    marked = buyer_mail(pair, "三つ目")
    assert compose.mark_no_reply_needed(marked, User.objects.get(email=OWNER))  # leaves the tally
    clock.advance(hours=1)
    buyer_mail(pair, "四つ目")  # waiting
    routed = buyer_mail(pair, "使い方は？", subject=f"注文 {fba.order_id} について")
    assert routed.state == Message.State.CUSTOMER_SERVICE  # customer service's, not counted
    kept, buckets = tally_of(pair.seller.pk), buckets_of(pair.seller.pk)
    later = tally.slot_of(clock.now)
    assert kept == [
        (slot, 2, 0, 2, (25 * 3600 + 7 * 60) + 25 * 3600),
        (slot + 100, 0, 0, 0, 0),  # the marked message arrived and left again
        (later, 1, 0, 0, 0),
    ]
    assert buckets == [(median.day_of(int(first.created_at.timestamp())), median.bucket_of(25 * 3600), 2)]
    tally.rebuild(pair.seller.pk)
    assert tally_of(pair.seller.pk) == [row for row in kept if row[1]]
    assert buckets_of(pair.seller.pk) == buckets


def test_the_median_is_exact_over_many_answers_in_every_window(clock):
    """Random response times from seconds to days, answered by web and mail: the median from the
    buckets equals the middle of the sorted stored response times, in every window."""
    pair = make_pair()
    rng = random.Random(5)
    clock.at(datetime(2026, 8, 1, 6, 41, 17, tzinfo=TOKYO))
    for n in range(120):
        question = buyer_mail(pair, f"質問 {n}")
        clock.advance(
            seconds=rng.choice([rng.randint(1, 600), rng.randint(600, 86_400), rng.randint(1, 5 * 86_400)])
        )
        if n % 2:
            seller_mail(pair)
        else:
            seller_web_reply(question)
        clock.advance(seconds=rng.randint(0, 20_000))
    now = clock.now + timedelta(minutes=3, seconds=7)
    for days in (7, 30, 90):
        stored = sorted(
            Message.objects.filter(
                created_at__gte=now - timedelta(days=days), response_seconds__isnull=False
            ).values_list("response_seconds", flat=True)
        )
        assert len(stored) > 5
        assert response_times.figures(pair.seller.pk, days, now).median_seconds == statistics.median_low(
            stored
        )


def test_the_daily_chart_counts_days_in_the_sellers_time_zone(clock):
    pair = make_pair()
    clock.at(datetime(2026, 11, 2, 23, 30, tzinfo=TOKYO))  # 14:30 UTC on the 2nd
    late_evening = buyer_mail(pair)
    clock.at(datetime(2026, 11, 3, 0, 30, tzinfo=TOKYO))  # 15:30 UTC on the 2nd, the 3rd in Tokyo
    buyer_mail(pair, "深夜")
    clock.advance(hours=1)
    seller_web_reply(late_evening)
    tokyo = {
        d.day.isoformat(): d
        for d in response_times.daily(pair.seller.pk, "Asia/Tokyo", clock.now)
        if d.received
    }
    utc = {
        d.day.isoformat(): d.received
        for d in response_times.daily(pair.seller.pk, "UTC", clock.now)
        if d.received
    }
    assert {day: d.received for day, d in tokyo.items()} == {"2026-11-02": 1, "2026-11-03": 1}
    assert utc == {"2026-11-02": 2}
    assert tokyo["2026-11-02"].on_time == 1
    days = response_times.daily(pair.seller.pk, "Asia/Tokyo", clock.now)
    assert len(days) == 90 and days[-1].day.isoformat() == "2026-11-03"


def test_the_daily_chart_counts_the_day_the_clocks_change_as_one_day(clock):
    """New York leaves summer time on 1 November 2026: that day has 25 hours."""
    pair = make_pair()
    new_york = ZoneInfo("America/New_York")
    arrivals = [
        datetime(2026, 10, 31, 23, 50, tzinfo=new_york),
        datetime(2026, 11, 1, 0, 10, tzinfo=new_york),
        datetime(2026, 11, 1, 23, 50, tzinfo=new_york),  # the 25th hour of the day
        datetime(2026, 11, 2, 0, 10, tzinfo=new_york),
        datetime(2026, 11, 2, 23, 50, tzinfo=new_york),
    ]
    for moment in arrivals:
        clock.at(moment)
        buyer_mail(pair, moment.isoformat())
    clock.at(datetime(2026, 11, 3, 12, 0, tzinfo=new_york))
    chart = {
        d.day.isoformat(): (d.received, d.late)
        for d in response_times.daily(pair.seller.pk, zone=new_york.key)
    }
    assert {day: n for day, n in chart.items() if n[0]} == {
        "2026-10-31": (1, 1),
        "2026-11-01": (2, 2),
        "2026-11-02": (2, 1),  # the one at 23:50 is not 24 hours old yet
    }


def test_at_risk_lists_waiting_messages_close_to_their_deadline(clock, settings):
    settings.AT_RISK_HOURS = 6
    pair = make_pair()
    safe = buyer_mail(pair, "余裕あり")
    clock.advance(hours=10)
    risky = buyer_mail(pair, "期限間近")
    clock.advance(hours=10)
    assert response_times.at_risk(pair.seller.pk, clock.now) == [safe.pk]  # 4 h left
    clock.advance(hours=5)  # safe is late now (25 h); risky has 9 h left
    assert response_times.at_risk(pair.seller.pk, clock.now) == []
    clock.advance(hours=4)
    assert response_times.at_risk(pair.seller.pk, clock.now) == [risky.pk]


def test_the_command_prints_the_same_figures_as_json(clock):
    pair = make_pair()
    question = buyer_mail(pair)
    clock.advance(hours=3)
    seller_web_reply(question)
    out = StringIO()
    call_command("metrics", "--seller", str(pair.seller.pk), "--days", "30", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["on_time"] == 1 and printed["share_on_time"] == 1.0
    assert printed["median_response_seconds"] == 3 * 3600


def test_the_performance_page_the_staff_ranking_and_the_api_show_the_figures(client, clock):
    pair = make_pair()
    question = buyer_mail(pair)
    clock.advance(hours=30)
    seller_web_reply(question)
    assert client.login(username=OWNER, password=PASSWORD)
    page = client.get("/performance/?days=7").content.decode()
    assert "0.0%" in page and "100.0%" in page and "<svg" in page  # none on time, all late
    assert "1日 6時間" in page  # the average, as people say it
    _token, secret = ApiToken.issue(User.objects.get(email=OWNER), "t", ["read"])
    answer = client.get("/api/v1/metrics", {"days": 7}, HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert answer["late"] == 1 and answer["average_response_seconds"] == 30 * 3600
    client.logout()
    User.objects.create_user("staff@marketplace.example", PASSWORD, name="Staff", role=User.Role.STAFF)
    assert client.login(username="staff@marketplace.example", password=PASSWORD)
    ranking = client.get("/staff/performance/").content.decode()
    assert pair.seller.name in ranking and "0.0%" in ranking
    assert client.get(f"/staff/performance/{pair.seller.pk}/").status_code == 200


# --- FBA routing (SPEC F9) ------------------------------------------------------------------------
def fba_pair(product_support: bool = False):
    pair = make_pair()
    pair.order = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    pair.seller.fba_product_support = product_support
    pair.seller.save()
    return pair


def test_fba_messages_go_to_customer_service_by_web_and_mail_when_support_is_off(client, sink):
    pair = fba_pair(product_support=False)
    assert client.login(username=BUYER, password=PASSWORD)
    page = client.post(
        f"/my/orders/{pair.order.order_id}/contact/", {"topic": "product", "text": "使い方は？"}, follow=True
    )
    assert "カスタマーサービス" in page.content.decode()
    [web] = Message.objects.filter(author=Message.Author.BUYER)
    assert web.state == Message.State.CUSTOMER_SERVICE and not web.needs_reply
    by_mail = buyer_mail(pair, "色違いはありますか")
    assert by_mail.state == Message.State.CUSTOMER_SERVICE
    assert not Delivery.objects.filter(
        message__author=Message.Author.BUYER
    ).exists()  # the seller gets nothing
    deliver_all()
    assert [m.rcpt_tos for m in sink.messages] == [[BUYER]]  # the buyer is told by mail who answers
    assert "customer service will answer" in everything_readable(sink.messages[0].data)
    assert not list(messages_for(pair.seller, ListQuery.from_params({"box": "received"})))
    assert response_times.figures(pair.seller.pk, 7).due == 0  # not the seller's to answer
    client.logout()
    User.objects.create_user("staff@marketplace.example", PASSWORD, name="Staff", role=User.Role.STAFF)
    assert client.login(username="staff@marketplace.example", password=PASSWORD)
    queue = client.get("/staff/customer-service/").content.decode()
    assert "使い方は？" in queue and "色違いはありますか" in queue


@pytest.mark.parametrize(
    ("topic", "text", "to_customer_service"),
    [("product", "サイズ感を教えてください", False), ("other", "ギフト包装は？", False),
     ("shipping", "まだ届きません", True), ("return", "返品したいです", True)],
)  # fmt: skip
def test_with_support_on_product_questions_reach_the_seller_and_the_rest_do_not(
    client, topic, text, to_customer_service
):
    pair = fba_pair(product_support=True)
    assert client.login(username=BUYER, password=PASSWORD)
    client.post(f"/my/orders/{pair.order.order_id}/contact/", {"topic": topic, "text": text})
    [message] = Message.objects.filter(author=Message.Author.BUYER)
    assert (message.state == Message.State.CUSTOMER_SERVICE) is to_customer_service


@pytest.mark.parametrize(
    ("body", "to_customer_service"),
    [("説明書をなくしました。使い方を教えてください。", False), ("返品の手続きを教えてください。", True),
     ("The parcel has not arrived yet.", True), ("Does it work with 220 V?", False)],
)  # fmt: skip
def test_with_support_on_a_mail_is_routed_by_what_it_asks(body, to_customer_service):
    pair = fba_pair(product_support=True)
    message = buyer_mail(pair, body, subject=f"注文 {pair.order.order_id}")
    assert (message.state == Message.State.CUSTOMER_SERVICE) is to_customer_service


def test_mfn_orders_always_reach_the_seller():
    pair = make_pair()  # MFN, support off
    assert buyer_mail(pair, "返品したいです").state == Message.State.RELAYED


def test_only_the_owner_changes_product_support_and_each_change_is_recorded(client):
    pair = make_pair()
    helper = User.objects.create_user(
        "helper@sakura-books.example.jp", PASSWORD, name="Helper", role=User.Role.SELLER
    )
    SellerUser.objects.create(account=pair.seller, user=helper, is_owner=False)
    assert client.login(username="helper@sakura-books.example.jp", password=PASSWORD)
    assert "⛔" in client.get("/settings/fba/").content.decode()
    assert client.post("/settings/fba/", {"product_support": "enabled"}).status_code == 404
    client.logout()
    assert client.login(username=OWNER, password=PASSWORD)
    assert 'name="product_support"' in client.get("/settings/fba/?edit=1").content.decode()
    assert client.post("/settings/fba/", {"product_support": "enabled"}).status_code == 302
    pair.seller.refresh_from_db()
    assert pair.seller.fba_product_support
    [change] = SellerSettingChange.objects.all()
    assert (change.old_value, change.new_value, change.changed_by.email) == ("False", "True", OWNER)


def test_the_chart_leaves_a_gap_for_days_with_nothing_due_and_shows_late_in_red():
    from datetime import date

    from marketmsg.metrics.response_times import Day
    from marketmsg.web.charts import response_chart

    days = [
        Day(date(2026, 12, 1), 4, 4, 0),
        Day(date(2026, 12, 2), 2, 1, 1),
        Day(date(2026, 12, 3), 0, 0, 0),  # nothing received, nothing due: no share at all
        Day(date(2026, 12, 4), 3, 3, 0),
        Day(date(2026, 12, 5), 1, 0, 1),
    ]
    svg = str(response_chart(days, "messages", "on time"))
    assert svg.count("<polyline ") == 2  # two pieces of line around the empty day, not a dip to 0 %
    assert svg.count('class="dot"') == 4
    assert svg.count('class="bar late"') == 2
