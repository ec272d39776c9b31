"""Names and texts for seeded marketplaces: realistic enough to read, made up entirely."""

from __future__ import annotations

FAMILY = [
    ("Yamada", "山田"), ("Sato", "佐藤"), ("Suzuki", "鈴木"), ("Takahashi", "高橋"), ("Tanaka", "田中"),
    ("Watanabe", "渡辺"), ("Ito", "伊藤"), ("Nakamura", "中村"), ("Kobayashi", "小林"), ("Kato", "加藤"),
    ("Yoshida", "吉田"), ("Yamamoto", "山本"), ("Sasaki", "佐々木"), ("Matsumoto", "松本"), ("Inoue", "井上"),
    ("Kimura", "木村"), ("Hayashi", "林"), ("Shimizu", "清水"), ("Mori", "森"), ("Ikeda", "池田"),
]  # fmt: skip
GIVEN = [
    ("taro", "太郎"), ("hanako", "花子"), ("yuki", "由紀"), ("kenji", "健二"), ("aoi", "葵"), ("ren", "蓮"),
    ("sakura", "さくら"), ("haruto", "陽翔"), ("mei", "芽衣"), ("sota", "蒼太"), ("yui", "結衣"), ("riku", "陸"),
    ("hina", "陽菜"), ("daiki", "大輝"), ("misaki", "美咲"), ("takumi", "拓海"),
]  # fmt: skip
SHOPS = [
    "さくら書店 Sakura Books", "青空雑貨 Aozora Goods", "富士カメラ Fuji Camera Works", "こもれび茶房 Komorebi Tea",
    "みなと電機 Minato Denki", "ひかり文具 Hikari Stationery", "森のおもちゃ Mori Toys", "北斗アウトドア Hokuto Outdoor",
    "つばめ食品 Tsubame Foods", "かえで家具 Kaede Furniture", "はなみずき化粧品 Hanamizuki Beauty",
    "しずく工房 Shizuku Craft",
]  # fmt: skip
PRODUCTS = [
    "ワイヤレスイヤホン Bluetooth 5.3", "ステンレス水筒 500ml", "文庫本カバー 本革", "USB-C 充電ケーブル 2m",
    "抹茶 有機 100g", "折りたたみ傘 軽量", "LED デスクライト", "キャンプ用 ランタン", "木製 積み木 セット",
    "日焼け止め SPF50+", "ノート A5 方眼 5冊", "コーヒー豆 中煎り 500g", "Kindle cover, indigo",
    "Hiking socks (3 pairs)", "Ceramic mug 350ml",
]  # fmt: skip
BUYER_TEXTS = [
    ("発送について / Shipping", "注文した商品はいつ発送されますか？お届け予定日を教えてください。"),
    ("商品について / Product", "この商品は日本のコンセントでそのまま使えますか？"),
    ("返品について / Return", "届いた商品のサイズが合わなかったので、返品できますか？"),
    ("Question about my order", "Hello, could you tell me when my order will ship? Thank you."),
    ("破損の連絡", "箱が潰れて届き、中身に傷がありました。写真を添付します。交換は可能でしょうか。"),
]  # fmt: skip
SELLER_TEXTS = [
    "お問い合わせありがとうございます。ご注文の商品は明日発送予定です。",
    "ご不便をおかけして申し訳ございません。交換品をすぐにお送りします。",
    "はい、日本国内の100Vコンセントでそのままお使いいただけます。",
    "Thank you for your message. Your order shipped today; it should arrive within 2 days.",
    "返品を承りました。返送先の住所はメッセージにてご案内します。",
]  # fmt: skip

# Saved replies (定型文) the demo's shops start with; placeholders are filled in on insertion.
TEMPLATES = [
    (
        "発送のご連絡",
        "{buyer_name} 様\n\nご注文 {order_id} の商品を本日発送いたしました。お届けまで今しばらくお待ちください。\n\n{seller_name}",
    ),
    (
        "お問い合わせへのお礼",
        "{buyer_name} 様\n\nお問い合わせありがとうございます。確認のうえ、24時間以内にご連絡いたします。\n\n{seller_name}",
    ),
    (
        "在庫について",
        "{buyer_name} 様\n\n{product_title}（{asin}）の在庫を確認いたしました。ご注文いただければ翌営業日に発送いたします。\n\n{seller_name}",
    ),
]
