"""The PII cases every engine is tested on (Python, DuckDB, Spark, ingestion, transforms, gates).

Each case: text, the free-text kinds found (`pii.free_text_patterns`), the value kinds found
(`pii.value_patterns`), and the text after free-text redaction (None where engines may differ in the
non-ASCII parts they leave unfolded, e.g. half-width katakana, which no ASCII pattern can match).
"""

from __future__ import annotations

CASES: list[tuple[str | None, list[str], list[str], str | None]] = [
    ("call back on 090-1234-5678", ["phone"], ["phone"], "call back on [phone]"),
    ("０９０－１２３４－５６７８", ["phone"], ["phone"], "[phone]"),  # full-width digits and hyphens
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", ["email"], ["email"], "[email]"),  # full-width letters, at sign, dot
    ("mail taro@example.com please", ["email"], ["email"], "mail [email] please"),
    ("⓪⑨⓪-⑫③④-⑤⑥⑦⑧", ["phone"], ["phone"], "[phone]"),  # circled digits; ⑫ expands to two
    ("℡@shop.example.jp", ["email"], ["email"], "[email]"),  # ℡ expands to TEL: only then a local part
    ("𝟎𝟗𝟎-𝟏𝟐𝟑𝟒-𝟓𝟔𝟕𝟖", ["phone"], ["phone"], "[phone]"),  # mathematical digits, beyond 16 bits
    ("Ｔｅｌ：０３－１２３４－５６７８", ["phone"], [], "Tel:[phone]"),  # a landline: free text only
    ("09012345678", ["phone"], ["phone"], "[phone]"),
    ("100000000008", ["phone"], [], "1[phone]"),  # a gid holds a long digit run: redacted in free text only
    ("ｺｰﾙ 080-1111-2222", ["phone"], ["phone"], None),  # half-width kana stays as each engine leaves it
    ("ギフト包装 ３日後受取", [], [], "ギフト包装 ３日後受取"),  # no PII: kept as typed, full-width and all
    ("store CVS00123, total 1,980 yen", [], [], "store CVS00123, total 1,980 yen"),
    ("taro@example", [], [], "taro@example"),
    ("cvs:T0001234", ["phone"], [], "cvs:T[phone]"),
    (None, [], [], None),
]
