"""Free-text answers: tokens, keywords per group, and a small lexicon sentiment scorer.

**Tokens.** Chinese runs are segmented with jieba (its default dictionary, precise
mode); other text is lower-cased and split on letters and apostrophes. Stop words (a
short English and Chinese list), punctuation, numbers and one-letter Latin tokens are
dropped.

**Keywords.** Per group (a store, a channel, a period), the words most over-used
against the other groups: the log-odds ratio with an informative Dirichlet prior
(Monroe, Colaresi & Quinn 2008, "Fightin' Words"), each word's z-score
``delta / sqrt(var)`` with ``delta = log((y_g + a_w) / (n_g + a0 - y_g - a_w)) -
log((y_r + a_w) / (n_r + a0 - y_r - a_w))``, ``var ~ 1 / (y_g + a_w) + 1 / (y_r + a_w)``
and the prior ``a_w`` proportional to the word's share of all answers (``a0`` = 500).
Rare words get shrunk towards nothing, frequent shared words cancel. With one group
only, its most frequent words.

**Sentiment.** Each token found in a positive or negative list counts +1 or -1 (x1.5
after an intensifier such as "very" or 很/非常); a negator ("not", "never", 不, 没) in
the two tokens before flips it. A text's score is the sum over the square root of its
token count, clipped to [-1, 1]; positive above 0.05, negative below -0.05, else
neutral. The lists are short and for survey answers about shops (service, staff,
delivery, price, quality); ``evaluations/survey_sentiment.py`` measures it on a labelled
sample of English and Chinese answers (docs/surveys.md has the figure).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z][a-z']*")
STOP_EN = _words(
    "a an the and or but if of to in on at for with from by is are was were be been am i "
    "me my we our you your it its this that these those they them there here so as very "
    "too just really all any some do does did have has had will would can could should "
    "about than then also get got much more most what which who when where how"
)
STOP_ZH = _words(
    "的 了 是 我 你 他 她 它 们 在 也 就 都 和 与 很 还 吧 啊 呢 吗 这 那 有 "
    "一个 一 个 给 被 让 把 对 说 又 跟 着 过"
)
POSITIVE = _words(
    "good great excellent friendly helpful fast quick love loved like liked nice happy "
    "perfect fresh clean easy kind polite recommend amazing wonderful satisfied quality "
    "cheap convenient smooth pleasant professional patient best awesome fantastic thanks "
    "好 很好 不错 满意 喜欢 快 很快 方便 热情 友好 专业 耐心 干净 新鲜 便宜 实惠 推荐 "
    "优秀 完美 贴心 周到 舒服 满分 赞 棒 开心 高兴 感谢 谢谢 及时 划算 值得 好评 放心"
)
NEGATIVE = _words(
    "bad poor slow rude terrible awful late broken dirty expensive wrong worst hate "
    "hated disappointed disappointing unhelpful problem problems complaint refund "
    "damaged missing wait waited waiting cold stale confusing difficult annoying never "
    "差 很差 慢 太慢 贵 太贵 脏 坏 破损 失望 糟糕 不满 不满意 投诉 退款 退货 问题 错 "
    "冷漠 态度差 难用 麻烦 缺货 延迟 迟到 排队 等 太久 生气 垃圾 骗 差评 难吃 不好"
)
NEGATORS = _words(
    "not no never don't didn't isn't wasn't aren't can't won't hardly 不 没 没有 别 未 无 不是"
)
INTENSIFIERS = _words("very really so extremely too super 很 非常 太 特别 超 十分 真")
PRIOR = 500.0
THRESHOLD = 0.05


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary's load notice is not ours
    return jieba


def tokens(text: str, *, keep_stop: bool = False) -> list[str]:
    """The words of ``text``: jieba for Chinese runs, a plain split for the rest."""
    out: list[str] = []
    at = 0
    lowered = text.lower()
    for match in _HAN.finditer(lowered):
        out.extend(_latin(lowered[at : match.start()], keep_stop))
        for word in _jieba().lcut(match.group(0)):
            word = word.strip()
            if word and (keep_stop or word not in STOP_ZH):
                out.append(word)
        at = match.end()
    out.extend(_latin(lowered[at:], keep_stop))
    return out


def _latin(text: str, keep_stop: bool) -> list[str]:
    words = [w.strip("'") for w in _LATIN.findall(text)]
    return [w for w in words if len(w) > 1 and (keep_stop or w not in STOP_EN)]


def sentiment(text: str) -> float:
    """A score in [-1, 1] (see the module docstring)."""
    words = tokens(text, keep_stop=True)
    if not words:
        return 0.0
    total = 0.0
    for i, word in enumerate(words):
        polarity = 1.0 if word in POSITIVE else -1.0 if word in NEGATIVE else 0.0
        if not polarity:
            # 不好 / 不满意 may come as 不 + 好: the negator is seen below.
            continue
        before = words[max(0, i - 2) : i]
        if any(w in INTENSIFIERS for w in before):
            polarity *= 1.5
        if any(w in NEGATORS for w in before):
            polarity = -polarity
        total += polarity
    return max(-1.0, min(1.0, total / math.sqrt(len(words))))


def label(score: float) -> str:
    return "positive" if score > THRESHOLD else "negative" if score < -THRESHOLD else "neutral"


def keywords(
    groups: Mapping[str, Sequence[str]], *, top: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """Each group's ``top`` words by log-odds z-score against the other groups."""
    counts = {g: Counter(w for t in texts for w in tokens(t)) for g, texts in groups.items()}
    everything: Counter[str] = Counter()
    for c in counts.values():
        everything.update(c)
    total = sum(everything.values())
    out: dict[str, list[dict[str, Any]]] = {}
    for group, mine in counts.items():
        if len(counts) == 1 or not total:
            out[group] = [{"word": w, "count": n, "z": None} for w, n in mine.most_common(top)]
            continue
        n_g = sum(mine.values())
        n_r = total - n_g
        scored = []
        for word, y_g in mine.items():
            y_r = everything[word] - y_g
            a_w = PRIOR * everything[word] / total
            delta = math.log((y_g + a_w) / (n_g + PRIOR - y_g - a_w)) - math.log(
                (y_r + a_w) / (n_r + PRIOR - y_r - a_w)
            )
            z = delta / math.sqrt(1 / (y_g + a_w) + 1 / (y_r + a_w))
            scored.append((z, y_g, word))
        scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
        out[group] = [
            {"word": w, "count": n, "z": round(z, 3)} for z, n, w in scored[:top] if z > 0
        ]
    return out


def summarise(
    rows: Iterable[Mapping[str, Any]], *, by: str, period: str, top: int
) -> dict[str, Any]:
    """Keywords and sentiment of the rows' ``text`` per ``by`` (store, channel, period)."""
    from omnichannel.errors import ValidationError
    from omnichannel.surveys.results import NONE, PERIODS, period_of

    if by not in ("store", "channel", "period", "campaign"):
        raise ValidationError("by", by, "store, channel, campaign or period")
    if period not in PERIODS:
        raise ValidationError("period", period, ", ".join(PERIODS))
    if not 1 <= top <= 100:
        raise ValidationError("top", top, "1 to 100 keywords")
    texts: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        key = period_of(r["started_at"], period) if by == "period" else (r.get(by) or NONE)
        texts[str(key)].append(str(r["text"]))
    words = keywords(texts, top=top)
    groups = []
    for group in sorted(texts):
        scores = [sentiment(t) for t in texts[group]]
        labels = Counter(label(s) for s in scores)
        n = len(scores)
        groups.append(
            {
                "group": group,
                "answers": n,
                "sentiment": round(sum(scores) / n, 3) if n else None,
                "positive": labels["positive"],
                "neutral": labels["neutral"],
                "negative": labels["negative"],
                "keywords": words.get(group, []),
            }
        )
    return {"by": by, "period": period, "groups": groups}
