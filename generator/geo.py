"""Japan's 47 prefectures: names, capital coordinates, population and postal code prefixes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Prefecture(NamedTuple):
    code: int  # JIS X 0401
    name_en: str
    name: str  # Japanese name, as written in the extracts (e.g. 東京都)
    capital: str  # capital city (Japanese)
    lat: float
    lon: float
    population_k: int  # thousands (2020 census, rounded)
    postal_lo: int  # first three postal code digits, inclusive range
    postal_hi: int


PREFECTURES: tuple[Prefecture, ...] = (
    Prefecture(1, "Hokkaido", "北海道", "札幌市", 43.0642, 141.3469, 5225, 40, 99),
    Prefecture(2, "Aomori", "青森県", "青森市", 40.8244, 140.7400, 1238, 30, 39),
    Prefecture(3, "Iwate", "岩手県", "盛岡市", 39.7036, 141.1527, 1211, 20, 29),
    Prefecture(4, "Miyagi", "宮城県", "仙台市", 38.2688, 140.8721, 2302, 980, 989),
    Prefecture(5, "Akita", "秋田県", "秋田市", 39.7186, 140.1024, 960, 10, 19),
    Prefecture(6, "Yamagata", "山形県", "山形市", 38.2404, 140.3633, 1068, 990, 999),
    Prefecture(7, "Fukushima", "福島県", "福島市", 37.7500, 140.4678, 1833, 960, 979),
    Prefecture(8, "Ibaraki", "茨城県", "水戸市", 36.3418, 140.4468, 2867, 300, 319),
    Prefecture(9, "Tochigi", "栃木県", "宇都宮市", 36.5658, 139.8836, 1933, 320, 329),
    Prefecture(10, "Gunma", "群馬県", "前橋市", 36.3911, 139.0608, 1939, 370, 379),
    Prefecture(11, "Saitama", "埼玉県", "さいたま市", 35.8569, 139.6489, 7345, 330, 369),
    Prefecture(12, "Chiba", "千葉県", "千葉市", 35.6050, 140.1233, 6284, 260, 299),
    Prefecture(13, "Tokyo", "東京都", "新宿区", 35.6895, 139.6917, 14048, 100, 208),
    Prefecture(14, "Kanagawa", "神奈川県", "横浜市", 35.4478, 139.6425, 9237, 210, 259),
    Prefecture(15, "Niigata", "新潟県", "新潟市", 37.9026, 139.0236, 2201, 940, 959),
    Prefecture(16, "Toyama", "富山県", "富山市", 36.6953, 137.2113, 1035, 930, 939),
    Prefecture(17, "Ishikawa", "石川県", "金沢市", 36.5947, 136.6256, 1133, 920, 929),
    Prefecture(18, "Fukui", "福井県", "福井市", 36.0652, 136.2216, 767, 910, 919),
    Prefecture(19, "Yamanashi", "山梨県", "甲府市", 35.6642, 138.5684, 810, 400, 409),
    Prefecture(20, "Nagano", "長野県", "長野市", 36.6513, 138.1810, 2048, 380, 399),
    Prefecture(21, "Gifu", "岐阜県", "岐阜市", 35.3912, 136.7223, 1979, 500, 509),
    Prefecture(22, "Shizuoka", "静岡県", "静岡市", 34.9769, 138.3831, 3633, 410, 439),
    Prefecture(23, "Aichi", "愛知県", "名古屋市", 35.1802, 136.9066, 7542, 440, 498),
    Prefecture(24, "Mie", "三重県", "津市", 34.7303, 136.5086, 1770, 510, 519),
    Prefecture(25, "Shiga", "滋賀県", "大津市", 35.0045, 135.8686, 1414, 520, 529),
    Prefecture(26, "Kyoto", "京都府", "京都市", 35.0214, 135.7556, 2578, 600, 629),
    Prefecture(27, "Osaka", "大阪府", "大阪市", 34.6863, 135.5200, 8838, 530, 599),
    Prefecture(28, "Hyogo", "兵庫県", "神戸市", 34.6913, 135.1830, 5465, 650, 679),
    Prefecture(29, "Nara", "奈良県", "奈良市", 34.6851, 135.8329, 1324, 630, 639),
    Prefecture(30, "Wakayama", "和歌山県", "和歌山市", 34.2260, 135.1675, 923, 640, 649),
    Prefecture(31, "Tottori", "鳥取県", "鳥取市", 35.5036, 134.2383, 553, 680, 689),
    Prefecture(32, "Shimane", "島根県", "松江市", 35.4723, 133.0505, 671, 690, 699),
    Prefecture(33, "Okayama", "岡山県", "岡山市", 34.6618, 133.9344, 1888, 700, 719),
    Prefecture(34, "Hiroshima", "広島県", "広島市", 34.3966, 132.4596, 2800, 720, 739),
    Prefecture(35, "Yamaguchi", "山口県", "山口市", 34.1859, 131.4714, 1342, 740, 759),
    Prefecture(36, "Tokushima", "徳島県", "徳島市", 34.0658, 134.5593, 720, 770, 779),
    Prefecture(37, "Kagawa", "香川県", "高松市", 34.3401, 134.0434, 950, 760, 769),
    Prefecture(38, "Ehime", "愛媛県", "松山市", 33.8416, 132.7657, 1335, 790, 799),
    Prefecture(39, "Kochi", "高知県", "高知市", 33.5597, 133.5311, 692, 780, 789),
    Prefecture(40, "Fukuoka", "福岡県", "福岡市", 33.6064, 130.4181, 5135, 800, 839),
    Prefecture(41, "Saga", "佐賀県", "佐賀市", 33.2494, 130.2988, 811, 840, 849),
    Prefecture(42, "Nagasaki", "長崎県", "長崎市", 32.7448, 129.8737, 1312, 850, 859),
    Prefecture(43, "Kumamoto", "熊本県", "熊本市", 32.7898, 130.7417, 1738, 860, 869),
    Prefecture(44, "Oita", "大分県", "大分市", 33.2382, 131.6126, 1124, 870, 879),
    Prefecture(45, "Miyazaki", "宮崎県", "宮崎市", 31.9111, 131.4239, 1070, 880, 889),
    Prefecture(46, "Kagoshima", "鹿児島県", "鹿児島市", 31.5602, 130.5581, 1588, 890, 899),
    Prefecture(47, "Okinawa", "沖縄県", "那覇市", 26.2124, 127.6809, 1467, 900, 909),
)

N_PREF = len(PREFECTURES)
PREF_NAMES: tuple[str, ...] = tuple(p.name for p in PREFECTURES)
PREF_LAT = np.array([p.lat for p in PREFECTURES])
PREF_LON = np.array([p.lon for p in PREFECTURES])
PREF_POP = np.array([p.population_k for p in PREFECTURES], dtype=np.float64)
PREF_WEIGHT = PREF_POP / PREF_POP.sum()
PREF_POSTAL_LO = np.array([p.postal_lo for p in PREFECTURES], dtype=np.int64)
PREF_POSTAL_HI = np.array([p.postal_hi for p in PREFECTURES], dtype=np.int64)
# store location jitter around the capital, in degrees (large prefectures spread wider)
PREF_SPREAD = np.where(np.arange(N_PREF) == 0, 0.9, np.where(PREF_POP > 5000, 0.12, 0.25))


def pref_distance_km() -> np.ndarray:
    """Great-circle distance between prefecture capitals (47 x 47, km)."""
    lat = np.radians(PREF_LAT)
    lon = np.radians(PREF_LON)
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
