# ruff: noqa: RUF001 - the Chinese answers are written with Chinese punctuation
"""Accuracy of the surveys' lexicon sentiment scorer on a labelled sample of answers.

The sample below was written for this evaluation (not drawn from the lexicon's lists):
72 short survey answers about shops, half English, half Chinese, each labelled positive,
negative or neutral by hand, some with negation ("not helpful", 不满意, 没有问题),
mixed feelings and no sentiment words at all. The scorer (``surveys/text.py``) is
compared with the majority-class baseline on the same sample.

    .venv/bin/python evaluations/survey_sentiment.py
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from omnichannel.surveys.text import label, sentiment

SAMPLE: list[tuple[str, str, str]] = [
    # English
    ("en", "positive", "The staff were friendly and the checkout was quick"),
    ("en", "positive", "Great selection and very helpful people"),
    ("en", "positive", "Delivery was fast, everything arrived fresh"),
    ("en", "positive", "Easy to find what I needed, thanks"),
    ("en", "positive", "Love the new store, so clean"),
    ("en", "positive", "Excellent service as always"),
    ("en", "positive", "Good prices and polite staff"),
    ("en", "positive", "I would recommend this shop to anyone"),
    ("en", "positive", "Returns were smooth and the cashier was kind"),
    ("en", "positive", "Really happy with the quality"),
    ("en", "positive", "Nothing was wrong, it was perfect"),
    ("en", "positive", "Convenient location and professional staff"),
    ("en", "negative", "Waited twenty minutes at the till"),
    ("en", "negative", "The staff were not helpful at all"),
    ("en", "negative", "Rude cashier and a dirty floor"),
    ("en", "negative", "My order arrived late and damaged"),
    ("en", "negative", "Too expensive for what you get"),
    ("en", "negative", "The app was confusing and slow"),
    ("en", "negative", "Item missing from my bag, very disappointed"),
    ("en", "negative", "Worst experience, I want a refund"),
    ("en", "negative", "Never enough stock of the sizes I need"),
    ("en", "negative", "Not happy with the quality of the shirt"),
    ("en", "negative", "The bread was stale"),
    ("en", "negative", "Long queue and only one till open"),
    ("en", "neutral", "I bought socks and a scarf"),
    ("en", "neutral", "Came in on Tuesday afternoon"),
    ("en", "neutral", "Usually shop here on weekends"),
    ("en", "neutral", "Picked up an online order"),
    ("en", "neutral", "Second visit this month"),
    ("en", "neutral", "It was fine"),
    ("en", "neutral", "Paid with the app"),
    ("en", "neutral", "No comment"),
    ("en", "neutral", "Shopping for my mother"),
    ("en", "neutral", "The store is near my office"),
    ("en", "neutral", "Bought the same as last time"),
    ("en", "neutral", "Just looking around"),
    # Chinese
    ("zh", "positive", "店员很热情，结账也很快"),
    ("zh", "positive", "商品质量不错，很满意"),
    ("zh", "positive", "送货及时，东西很新鲜"),
    ("zh", "positive", "价格实惠，值得推荐"),
    ("zh", "positive", "环境干净，服务周到"),
    ("zh", "positive", "非常方便，下次还来"),
    ("zh", "positive", "客服很耐心，问题解决了"),
    ("zh", "positive", "退货很顺利，好评"),
    ("zh", "positive", "没有问题，很好"),
    ("zh", "positive", "新店很漂亮，很喜欢"),
    ("zh", "positive", "性价比高，划算"),
    ("zh", "positive", "导购很专业"),
    ("zh", "negative", "排队太久，态度差"),
    ("zh", "negative", "缺货，很失望"),
    ("zh", "negative", "价格太贵了"),
    ("zh", "negative", "快递延迟了三天，包装还破损"),
    ("zh", "negative", "店员不热情，爱答不理"),
    ("zh", "negative", "对这次购物不满意"),
    ("zh", "negative", "东西不新鲜"),
    ("zh", "negative", "退款太麻烦，要投诉"),
    ("zh", "negative", "应用很难用"),
    ("zh", "negative", "面包难吃"),
    ("zh", "negative", "收银员态度很差"),
    ("zh", "negative", "衣服质量不好"),
    ("zh", "neutral", "周末来买了点东西"),
    ("zh", "neutral", "帮家人取件"),
    ("zh", "neutral", "这是我这个月第二次来"),
    ("zh", "neutral", "用手机支付的"),
    ("zh", "neutral", "买了袜子和围巾"),
    ("zh", "neutral", "一般吧"),
    ("zh", "neutral", "店在公司附近"),
    ("zh", "neutral", "和上次买的一样"),
    ("zh", "neutral", "随便看看"),
    ("zh", "neutral", "网上下单，门店自提"),
    ("zh", "neutral", "下午来的"),
    ("zh", "neutral", "无"),
]


def main() -> None:
    console = Console()
    labels = ("positive", "neutral", "negative")
    majority = Counter(truth for _, truth, _ in SAMPLE).most_common(1)[0][0]
    table = Table(title=f"Lexicon sentiment on {len(SAMPLE)} labelled survey answers")
    for column in ("language", "answers", "accuracy", "majority baseline", "macro F1"):
        table.add_column(column)
    confusion: Counter[tuple[str, str]] = Counter()
    for lang in ("en", "zh", "all"):
        rows = [s for s in SAMPLE if lang in ("all", s[0])]
        guesses = [(truth, label(sentiment(text))) for _, truth, text in rows]
        if lang == "all":
            confusion.update(guesses)
        right = sum(1 for t, g in guesses if t == g)
        f1s = []
        for c in labels:
            tp = sum(1 for t, g in guesses if t == c and g == c)
            fp = sum(1 for t, g in guesses if t != c and g == c)
            fn = sum(1 for t, g in guesses if t == c and g != c)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        base = sum(1 for t, _ in guesses if t == majority)
        table.add_row(
            lang,
            str(len(rows)),
            f"{right / len(rows):.1%}",
            f"{base / len(rows):.1%} ({majority})",
            f"{sum(f1s) / 3:.3f}",
        )
    console.print(table)
    matrix = Table(title="Confusion (rows: truth, columns: scorer)")
    matrix.add_column("")
    for c in labels:
        matrix.add_column(c)
    for t in labels:
        matrix.add_row(t, *(str(confusion[(t, g)]) for g in labels))
    console.print(matrix)
    wrong = [(lang, truth, text) for lang, truth, text in SAMPLE if label(sentiment(text)) != truth]
    for lang, truth, text in wrong:
        console.print(
            f"  missed [{lang}] {truth}: {text} -> {label(sentiment(text))}", markup=False
        )


if __name__ == "__main__":
    main()
