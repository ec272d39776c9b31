"""What a person reads when a provider sign-in does not go through: in both languages, what
happened and what to do next. The subject shown is the person's own ID at the marketplace."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from marketmsg.bilingual import bilingual_page

# reason → (status, icon, title ja, title en, text ja, text en)
REFUSALS: dict[str, tuple[int, str, str, str, str, str]] = {
    "unknown": (403, "🙋", "メッセージセンターにまだ登録されていません", "You are not in the message center yet",
                "マーケットプレイスのアカウント（ID: {subject}）はサインインできましたが、メッセージセンターにはまだ登録されていません。"
                "注文や出品の情報が届くと使えるようになります。しばらくたっても同じ場合は、マーケットプレイスのサポートにお問い合わせください。",
                "Your marketplace account (ID: {subject}) signed in, but the message center does not know it yet. It "
                "will once the marketplace sends your shop or orders. If this lasts, contact the marketplace's support."),
    "not-here": (403, "⛔", "このサインインは使えません", "This sign-in cannot be used here",
                 "このアカウント（ID: {subject}）はここからはサインインできません。スタッフの方は「スタッフのサインイン」をお使いください。",
                 "This account (ID: {subject}) cannot sign in here. Staff: use “Staff sign-in”."),
    "not-staff": (403, "⛔", "スタッフとして登録されていません", "You are not registered as staff",
                  "運営者の認証サービスはあなた（ID: {subject}）をスタッフとして示していません。管理者に権限を確認してください。",
                  "The operator's sign-in service does not name you (ID: {subject}) as staff. Ask your administrator."),
    "no-subject": (403, "⚠", "アカウントを特定できませんでした", "Your account could not be identified",
                   "認証サービスの応答にアカウントIDがありませんでした。マーケットプレイスのサポートにお問い合わせください。",
                   "The sign-in service's answer named no account ID. Contact the marketplace's support."),
    "no-email": (403, "⚠", "メールアドレスがありません", "No e-mail address was given",
                 "運営者の認証サービスがメールアドレスを返しませんでした。管理者にお問い合わせください。",
                 "The operator's sign-in service gave no e-mail address. Ask your administrator."),
    "audience": (400, "⛔", "このサインインは別のサービス向けです", "This sign-in was meant for another service",
                 "受け取ったトークンはメッセージセンター向けに発行されたものではありません。もう一度サインインしてください。",
                 "The token we received was issued for another application, not the message center. Sign in again."),
    "token": (400, "⛔", "サインインを確認できませんでした", "The sign-in could not be verified",
              "認証サービスからの応答の署名または有効期限を確認できませんでした。もう一度サインインしてください。",
              "The sign-in service's answer failed its signature or time checks. Sign in again."),
    "exchange": (400, "⛔", "サインインを完了できませんでした", "The sign-in could not be completed",
                 "認証サービスがサインインの確認を拒否しました（リンクの期限切れや二重使用など）。もう一度サインインしてください。",
                 "The sign-in service refused to confirm this sign-in (an expired or reused link). Sign in again."),
    "state": (400, "⛔", "サインインの途中で情報が一致しませんでした", "The sign-in did not match the one started here",
              "このブラウザで始めたサインインと一致しません（古いタブや改ざんされたリンクなど）。もう一度サインインしてください。",
              "This answer does not belong to a sign-in started in this browser (an old tab or an altered link). "
              "Sign in again."),
    "cancelled": (400, "↩", "サインインは完了しませんでした", "The sign-in was not completed",
                  "認証サービスでサインインが取り消されたか、許可されませんでした。もう一度お試しください。",
                  "The sign-in was cancelled or not allowed at the sign-in service. Try again."),
    "unavailable": (503, "🛠", "認証サービスに接続できません", "The sign-in service cannot be reached",
                    "マーケットプレイスの認証サービスが応答しません。数分後にもう一度お試しください。",
                    "The marketplace's sign-in service does not answer. Try again in a few minutes."),
    "off": (404, "🔍", "このサインイン方法は使われていません", "This way of signing in is not in use",
            "この認証サービスは設定されていません。サインインページからお入りください。",
            "This sign-in provider is not set up. Use the sign-in page."),
}  # fmt: skip


def refused(request: HttpRequest, reason: str, subject: str = "") -> HttpResponse:
    status, icon, title_ja, title_en, text_ja, text_en = REFUSALS[reason]
    shown = subject[:80] or "—"
    return bilingual_page(
        status, icon, title_ja, title_en, text_ja.format(subject=shown), text_en.format(subject=shown), True
    )
