"""Static catalogue of the synthetic group: companies, feeds, categories, prices, store networks, names."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# companies that sell (one purchase extract each), in a fixed order used for array columns
SALES_COMPANIES: tuple[str, ...] = ("cvs", "gms", "dept", "diner", "sm", "baby", "ec")
STORE_COMPANIES: tuple[str, ...] = ("cvs", "gms", "dept", "diner", "sm", "baby")  # have physical stores
ALL_COMPANIES: tuple[str, ...] = ("cvs", "gms", "dept", "diner", "sm", "baby", "ec", "app", "money", "hq")
CI = {c: i for i, c in enumerate(SALES_COMPANIES)}

GROUP_TAXONOMY: tuple[str, ...] = (
    "fresh_food",
    "ready_meals",
    "beverages",
    "alcohol",
    "snacks",
    "daily_goods",
    "baby",
    "apparel",
    "cosmetics",
    "home",
    "electronics",
    "restaurant",
    "books_media",
    "services",
    "other",
)

# company -> feed -> file name pattern ({d} = YYYYMMDD); daily feeds first, masters last
FEEDS: dict[str, dict[str, str]] = {
    "cvs": {"pos": "cvs_pos_{d}.csv"},
    "gms": {"sales": "gms_sales_{d}.csv"},
    "dept": {"receipts": "dept_receipts_{d}.jsonl"},
    "diner": {"checks": "diner_checks_{d}.csv"},
    "sm": {"sales": "sm_sales_{d}.parquet", "id_links": "sm_id_links.csv"},
    "baby": {"sales": "baby_sales_{d}.csv"},
    "ec": {"orders": "ec_orders_{d}.jsonl"},
    "app": {"events": "app_events_{d}.jsonl.gz"},
    "money": {"txns": "money_txns_{d}.csv"},
    "hq": {
        "members": "members_{d}.csv",
        "campaigns": "campaigns.csv",
        "campaign_assignments": "campaign_assignments.csv",
    },
}
for _c in ALL_COMPANIES:
    if _c != "hq":
        FEEDS[_c]["stores"] = "stores.csv"
        FEEDS[_c]["categories"] = "categories.csv"

DAILY_FEEDS: dict[str, str] = {
    "cvs": "pos",
    "gms": "sales",
    "dept": "receipts",
    "diner": "checks",
    "sm": "sales",
    "baby": "sales",
    "ec": "orders",
    "app": "events",
    "money": "txns",
}


class Category(NamedTuple):
    code: str
    name: str
    group: str  # group taxonomy
    price: float  # mean unit price in yen (tax included, except gms: tax excluded)
    weight: float  # share of lines
    food: bool = True  # reduced 8% tax rate (gms)


CATEGORIES: dict[str, tuple[Category, ...]] = {
    "cvs": (
        Category("C101", "おにぎり・寿司", "ready_meals", 160, 14),
        Category("C102", "弁当・麺類", "ready_meals", 560, 8),
        Category("C103", "調理パン", "ready_meals", 190, 7),
        Category("C104", "惣菜・ホットスナック", "ready_meals", 240, 7),
        Category("C201", "ソフトドリンク", "beverages", 150, 16),
        Category("C202", "カウンターコーヒー", "beverages", 160, 7),
        Category("C203", "酒類", "alcohol", 260, 6, False),
        Category("C301", "菓子", "snacks", 180, 10),
        Category("C302", "アイス・デザート", "snacks", 230, 6),
        Category("C401", "日用品", "daily_goods", 420, 4, False),
        Category("C402", "化粧品", "cosmetics", 650, 1.5, False),
        Category("C501", "雑誌・書籍", "books_media", 620, 1.5, False),
        Category("C601", "チケット・サービス", "services", 2800, 0.6, False),
        Category("C701", "たばこ", "other", 580, 8, False),
        Category("C801", "生鮮・日配食品", "fresh_food", 240, 4),
    ),
    "gms": (
        Category("D01", "青果", "fresh_food", 230, 14),
        Category("D02", "鮮魚", "fresh_food", 480, 7),
        Category("D03", "精肉", "fresh_food", 560, 8),
        Category("D04", "惣菜", "ready_meals", 420, 9),
        Category("D05", "日配", "fresh_food", 190, 14),
        Category("D06", "加工食品", "other", 260, 14),
        Category("D07", "菓子", "snacks", 190, 7),
        Category("D08", "飲料", "beverages", 160, 7),
        Category("D09", "酒", "alcohol", 520, 4, False),
        Category("D10", "日用品", "daily_goods", 380, 6, False),
        Category("D11", "化粧品", "cosmetics", 900, 1.5, False),
        Category("D12", "衣料品", "apparel", 1900, 2, False),
        Category("D13", "住居関連", "home", 1200, 2, False),
        Category("D14", "家電", "electronics", 4800, 0.4, False),
        Category("D15", "ベビー用品", "baby", 1100, 0.8, False),
    ),
    "dept": (
        Category("DP10", "婦人服", "apparel", 14000, 16, False),
        Category("DP11", "紳士服", "apparel", 16000, 10, False),
        Category("DP20", "化粧品", "cosmetics", 7200, 18, False),
        Category("DP30", "食品・銘菓", "fresh_food", 2400, 26),
        Category("DP31", "惣菜・弁当", "ready_meals", 1300, 10),
        Category("DP40", "宝飾・時計", "other", 38000, 2, False),
        Category("DP50", "家庭用品", "home", 5200, 8, False),
        Category("DP60", "子供服・ベビー", "baby", 5800, 5, False),
        Category("DP70", "ギフト券・サービス", "services", 10000, 5, False),
    ),
    "diner": (
        Category("M01", "店内飲食", "restaurant", 1050, 85),
        Category("M02", "テイクアウト", "ready_meals", 900, 15),
    ),
    "sm": (
        Category("S01", "青果", "fresh_food", 220, 16),
        Category("S02", "鮮魚", "fresh_food", 460, 8),
        Category("S03", "精肉", "fresh_food", 540, 9),
        Category("S04", "惣菜", "ready_meals", 400, 10),
        Category("S05", "日配", "fresh_food", 180, 16),
        Category("S06", "一般食品", "other", 250, 16),
        Category("S07", "菓子", "snacks", 180, 8),
        Category("S08", "飲料", "beverages", 150, 7),
        Category("S09", "酒", "alcohol", 480, 4, False),
        Category("S10", "日用雑貨", "daily_goods", 360, 6, False),
    ),
    "baby": (
        Category("maternity", "マタニティ", "baby", 3400, 6, False),
        Category("baby_food", "ベビーフード・ミルク", "baby", 620, 28),
        Category("diapers", "紙おむつ・おしりふき", "baby", 1750, 30, False),
        Category("toys", "おもちゃ", "baby", 2600, 10, False),
        Category("clothing", "ベビー服", "baby", 1900, 16, False),
        Category("other", "その他", "other", 900, 10, False),
    ),
    "ec": (
        Category("ec_food", "食品", "fresh_food", 1800, 16),
        Category("ec_drink", "飲料・水", "beverages", 1900, 12),
        Category("ec_liquor", "お酒", "alcohol", 3200, 5, False),
        Category("ec_daily", "日用品", "daily_goods", 1500, 18, False),
        Category("ec_baby", "ベビー・キッズ", "baby", 2400, 6, False),
        Category("ec_fashion", "ファッション", "apparel", 4800, 11, False),
        Category("ec_beauty", "コスメ・美容", "cosmetics", 3300, 9, False),
        Category("ec_home", "インテリア・家具", "home", 6400, 7, False),
        Category("ec_appliance", "家電", "electronics", 15000, 5, False),
        Category("ec_books", "本・メディア", "books_media", 1600, 7, False),
        Category("ec_gift", "ギフト・サービス", "services", 5200, 4, False),
    ),
}

# quick single-line purchases that the loyalty programme adds at cvs (see world.PROGRAMME_*)
PROGRAMME_EXTRA_CODES: tuple[str, ...] = ("C101", "C104", "C201", "C202", "C301")


class Network(NamedTuple):
    brand: str
    stores: int  # at full scale (>= 200k members)
    fmt: str  # store format
    id_prefix: str
    id_digits: int
    opened_from: int  # earliest opening year
    prefs: tuple[int, ...] | None  # JIS codes where present, None = everywhere (population weighted)
    min_per_pref: int


NETWORKS: dict[str, Network] = {
    "cvs": Network("グループマート", 21000, "convenience", "", 6, 1978, None, 2),
    "gms": Network("グループストア", 420, "superstore", "G", 4, 1970, None, 1),
    "dept": Network(
        "グループ百貨店",
        22,
        "department_store",
        "DS",
        3,
        1932,
        (1, 4, 11, 12, 13, 13, 13, 14, 14, 22, 23, 23, 26, 27, 27, 28, 34, 40, 40),
        0,
    ),
    "diner": Network("グループダイナー", 1100, "family_restaurant", "R", 4, 1980, None, 1),
    "sm": Network("まるなかスーパー", 640, "supermarket", "SM", 4, 1965, (4, 6, 7, 8, 9, 10, 11, 12, 15, 20), 0),
    "baby": Network("ベビーグループ", 380, "baby_goods", "B", 4, 1990, None, 1),
    "ec": Network("グループEC", 5, "fulfilment_center", "FC", 2, 2012, (11, 12, 14, 23, 27), 0),
}

BRANCH_WORDS: tuple[str, ...] = (
    "駅前",
    "中央",
    "本町",
    "東口",
    "西口",
    "南口",
    "北口",
    "一丁目",
    "二丁目",
    "三丁目",
    "大通り",
    "公園前",
    "市役所前",
    "団地",
    "バイパス",
    "インター",
    "新町",
    "緑町",
    "栄町",
    "旭町",
    "港",
    "大学前",
    "病院前",
    "桜台",
)

# hour-of-day profile (JST) per company: relative weights for hours 0..23
HOUR_WEIGHTS: dict[str, tuple[float, ...]] = {
    "cvs": (2, 1.5, 1, 1, 1, 1.5, 4, 8, 9, 6, 5, 6, 10, 8, 5, 5, 5, 7, 9, 9, 7, 5, 4, 3),
    "gms": (0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 5, 7, 7, 6, 5, 6, 8, 10, 10, 7, 4, 2, 1, 0),
    "dept": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 7, 8, 9, 9, 8, 7, 6, 4, 0, 0, 0, 0),
    "diner": (0.5, 0.3, 0, 0, 0, 0, 0, 1, 2, 2, 2, 6, 12, 9, 4, 3, 3, 5, 10, 12, 8, 5, 3, 1.5),
    "sm": (0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 6, 7, 6, 5, 5, 6, 8, 10, 9, 6, 3, 1, 0, 0),
    "baby": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 8, 8, 8, 9, 9, 9, 8, 7, 5, 3, 0, 0, 0),
    "ec": (3, 2, 1, 1, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 5, 6, 7, 9, 10, 9, 6),
    "app": (2, 1, 0.5, 0.5, 0.5, 1, 3, 6, 8, 6, 5, 5, 8, 7, 5, 5, 5, 6, 8, 9, 9, 8, 6, 4),
}

# day-of-week multipliers (Mon..Sun)
DOW_FACTORS: dict[str, tuple[float, ...]] = {
    "cvs": (1.0, 1.0, 1.0, 1.0, 1.05, 0.95, 0.9),
    "gms": (0.85, 0.85, 0.9, 0.9, 1.0, 1.3, 1.3),
    "dept": (0.7, 0.7, 0.75, 0.8, 0.9, 1.6, 1.55),
    "diner": (0.8, 0.8, 0.85, 0.9, 1.1, 1.35, 1.3),
    "sm": (0.9, 0.9, 0.95, 0.95, 1.0, 1.2, 1.15),
    "baby": (0.8, 0.8, 0.8, 0.85, 0.9, 1.45, 1.45),
    "ec": (1.05, 1.0, 1.0, 1.0, 0.95, 0.95, 1.05),
}

# brand use: probability a member uses the brand at all, and its base share of the member's visits
USE_PROB: dict[str, float] = {
    "cvs": 0.88,
    "gms": 0.42,
    "dept": 0.10,
    "diner": 0.30,
    "sm": 0.45,
    "baby": 0.85,
    "ec": 0.22,
}
# (baby is not part of the normalised share: it is added on top from the baby's arrival)
VISIT_SHARE: dict[str, float] = {
    "cvs": 0.62,
    "gms": 0.15,
    "dept": 0.025,
    "diner": 0.06,
    "sm": 0.14,
    "baby": 0.5,
    "ec": 0.035,
}
# anonymous (non-member) receipts as a multiple of member receipts, per company
ANON_RATIO: dict[str, float] = {
    "cvs": 0.45,
    "gms": 0.40,
    "dept": 0.90,
    "diner": 0.80,
    "sm": 1.20,
    "baby": 0.35,
    "ec": 0.0,
}
# receipt lines: 1 + Poisson(mean - 1)
LINES_MEAN: dict[str, float] = {
    "cvs": 2.0,
    "gms": 4.6,
    "dept": 1.6,
    "diner": 1.0,
    "sm": 4.6,
    "baby": 2.2,
    "ec": 1.9,
}

CVS_PAYMENTS: tuple[str, ...] = ("現金", "電子マネー", "クレジット", "コード決済")
DEPT_PAYMENTS: tuple[str, ...] = ("cash", "card", "emoney", "giftcard")
BABY_CATEGORIES: tuple[str, ...] = tuple(c.code for c in CATEGORIES["baby"])
APP_EVENT_TYPES: tuple[str, ...] = (
    "app_open",
    "coupon_view",
    "coupon_use",
    "store_check_in",
    "product_view",
    "push_open",
)

DEPT_NOTES: tuple[str, ...] = (
    "ギフト包装",
    "のし紙 御中元",
    "配送希望 後日",
    "ポイント後日付与",
    "外商顧客",
    "お直し 3日後受取",
    "免税手続き済",
    "領収書発行済",
    "取り置き品お渡し",
    "友の会積立利用",
)
PII_NOTES: tuple[str, ...] = (
    "お客様連絡先 {phone}",
    "領収書をメール送付 {email}",
    "配送時連絡 {phone} 様",
    "会員様 {email} 宛に案内",
)

SURNAMES: tuple[tuple[str, str], ...] = (
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
    ("山崎", "yamazaki"),
    ("森", "mori"),
    ("池田", "ikeda"),
    ("橋本", "hashimoto"),
    ("阿部", "abe"),
    ("石川", "ishikawa"),
    ("山下", "yamashita"),
    ("中島", "nakajima"),
    ("石井", "ishii"),
    ("小川", "ogawa"),
)
GIVEN_F: tuple[tuple[str, str], ...] = (
    ("花子", "hanako"),
    ("陽子", "yoko"),
    ("恵子", "keiko"),
    ("美咲", "misaki"),
    ("結衣", "yui"),
    ("さくら", "sakura"),
    ("陽菜", "hina"),
    ("真由美", "mayumi"),
    ("明美", "akemi"),
    ("愛", "ai"),
    ("由美子", "yumiko"),
    ("葵", "aoi"),
    ("彩", "aya"),
    ("千尋", "chihiro"),
    ("直子", "naoko"),
)
GIVEN_M: tuple[tuple[str, str], ...] = (
    ("太郎", "taro"),
    ("大輔", "daisuke"),
    ("健太", "kenta"),
    ("翔太", "shota"),
    ("誠", "makoto"),
    ("拓也", "takuya"),
    ("浩", "hiroshi"),
    ("蓮", "ren"),
    ("大翔", "hiroto"),
    ("隆", "takashi"),
    ("和也", "kazuya"),
    ("悠真", "yuma"),
    ("修", "osamu"),
    ("健一", "kenichi"),
    ("直樹", "naoki"),
)
EMAIL_DOMAINS: tuple[str, ...] = ("example.jp", "example.com", "example.net", "mail.example.jp")


def hour_cdf(company: str) -> np.ndarray:
    """Cumulative hour-of-day distribution for sampling visit times."""
    w = np.asarray(HOUR_WEIGHTS[company], dtype=np.float64)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def category_arrays(company: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cdf of line shares, mean unit prices, food flags) for a company's categories."""
    cats = CATEGORIES[company]
    w = np.array([c.weight for c in cats], dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    price = np.array([c.price for c in cats], dtype=np.float64)
    food = np.array([c.food for c in cats], dtype=bool)
    return cdf, price, food
