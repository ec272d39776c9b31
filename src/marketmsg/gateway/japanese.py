"""The gateway's refusals in Japanese too, for mail clients that can carry it.

SMTP reply text is ASCII unless the client announced SMTPUTF8 for the message (RFC 6531 §3.7.4.2);
then a refusal gets a second line in Japanese (a multi-line reply, RFC 5321 §4.2.1), which the
sender's mail system quotes in the bounce a Japanese seller or buyer reads. Matched by the English
sentence's start, so that replies with a file name or a rule list in them are found too.
"""

from __future__ import annotations

import re

_SENTENCES = [
    ("No valid recipients", "有効な宛先がありません。宛先のリレーアドレスを確認してください"),
    (
        "No such relay address here",
        "この宛先（リレーアドレス）は存在しません。返信しようとしている注文やメッセージのアドレスを確認してください",
    ),
    ("Relaying denied", "このサーバーはリレーアドレス宛てのメールだけを受け付けます"),
    (
        "This sender address is blocked",
        "この送信者アドレスは出品者アカウントによってブロックされており、購入者へ送信できません",
    ),
    (
        "Only the buyer this relay address belongs to",
        "このリレーアドレスには、持ち主の購入者だけが送信できます。登録済みのアドレスから送ってください",
    ),
    (
        "This is your own relay address",
        "これは出品者から見たあなた自身のリレーアドレスです。出品者へは、出品者からのメールに返信してください",
    ),
    ("The message has no usable sender address", "メッセージに有効な送信者アドレス（From）がありません"),
    ("Mail loop", "メールのループを検出しました。リレーアドレスから来たメールは再度中継できません"),
    ("Too many recipients", "1通の宛先が多すぎます。残りは別のメールで送ってください"),
    (
        "Temporary problem storing the message",
        "一時的な問題でメッセージを保存できませんでした。何も保存されていません。しばらくしてから再送してください",
    ),
    (
        "The relay is short of storage",
        "一時的に保存領域が不足しています。何も保存されていません。しばらくしてから再送してください",
    ),
    ("The relay is busy", "ただいま混み合っています。数分後に再送してください"),
    ("Too many connections", "あなたのアドレスからの接続が多すぎます。いくつか閉じてから再試行してください"),
    ("Too many messages", "短時間に送信されたメールが多すぎます。しばらくしてから再送してください"),
    (
        "Not delivered (buyer_opted_out)",
        "配信されませんでした。この購入者は、返信と注文の問題に関する連絡だけを受け取ります。Webの「購入者に連絡」から理由を選んで送ってください",
    ),
    (
        "Not delivered: the message breaks the communication guidelines",
        "コミュニケーションガイドライン違反のため配信されませんでした。外部サイトへのリンク、宣伝、連絡先を削除してから再送してください",
    ),
    (
        "This message fails DMARC",
        "このメッセージは送信元ドメインの DMARC 検証に失敗しました。ドメインが認めたサーバーから送信してください",
    ),
    (
        "Attachments too large",
        "添付ファイルが大きすぎます（1通あたり合計10MBまで）。ファイルを減らすか小さくしてください",
    ),
    (
        "Attachment not allowed",
        "この種類のファイルは送れません。送信できるのは .txt、PDF、Word（.doc、.docx）、画像（.jpg、.gif、.bmp、.png）です",
    ),
    (
        "Attachment refused",
        "添付ファイルを受け付けられませんでした。ファイルを保存し直すか、正しいファイルを送ってください",
    ),
    (
        "Too many MIME parts",
        "メッセージの部品（MIMEパート）が多すぎます。ファイルを何通かに分けて送ってください",
    ),
    (
        "Message too big for this relay",
        "メッセージが大きすぎます。添付ファイルを小さくするか、何通かに分けて送ってください",
    ),
]
_REPLY = re.compile(r"^([45]\d\d) ([45]\.\d{1,3}\.\d{1,3}) (.*)$", re.DOTALL)


def with_japanese(reply: str) -> str:
    """``reply`` as two lines, English then Japanese, when it is a refusal we can say in Japanese."""
    found = _REPLY.match(reply)
    if found is None:
        return reply
    code, status, english = found.groups()
    for start, japanese in _SENTENCES:
        if english.startswith(start):
            return f"{code}-{status} {english}\r\n{code} {status} {japanese}"
    return reply
