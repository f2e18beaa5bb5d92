"""Names, places and the typing mistakes people make when they fill in a form twice.

Names are pinyin; cities carry the first three postcode digits used in them, so a
generated postcode is plausible for its city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Gao",
    "Luo",
    "Zheng",
    "Liang",
    "Xie",
    "Song",
    "Tang",
    "Han",
    "Feng",
    "Deng",
    "Cao",
    "Peng",
    "Zeng",
    "Xiao",
    "Tian",
    "Dong",
    "Pan",
    "Yuan",
    "Cai",
    "Jiang",
    "Yu",
    "Du",
    "Ye",
    "Cheng",
    "Wei",
    "Su",
    "Lu",
    "Ding",
    "Ren",
    "Shen",
)
# Surname frequency falls off steeply in China; a Zipf-like weight keeps Wang/Li/Zhang common,
# which is exactly what makes name-only matching dangerous.
SURNAME_WEIGHTS = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.9

GIVEN_FEMALE = (
    "Fang",
    "Na",
    "Min",
    "Jing",
    "Li",
    "Yan",
    "Juan",
    "Xia",
    "Ling",
    "Ting",
    "Hui",
    "Ying",
    "Xiaoyan",
    "Meiling",
    "Yuting",
    "Jiayi",
    "Zixuan",
    "Xinyi",
    "Yuxin",
    "Shiyu",
    "Mengqi",
    "Siqi",
    "Ruoxi",
    "Yiran",
    "Wanting",
    "Qian",
    "Lu",
    "Dan",
    "Lei",
    "Yue",
)
GIVEN_MALE = (
    "Wei",
    "Qiang",
    "Lei",
    "Jun",
    "Yong",
    "Jie",
    "Tao",
    "Ming",
    "Chao",
    "Hao",
    "Peng",
    "Bin",
    "Haoran",
    "Yuxuan",
    "Zihao",
    "Junjie",
    "Jiahao",
    "Yichen",
    "Zhiwei",
    "Jianguo",
    "Wenbo",
    "Xiaoming",
    "Tianyu",
    "Ruibin",
    "Kai",
    "Long",
    "Gang",
    "Feng",
    "Bo",
    "Hua",
)
EMAIL_DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "outlook.com",
    "gmail.com",
    "foxmail.com",
    "139.com",
)
STREETS = (
    "Nanjing Road",
    "Huaihai Road",
    "Jianguo Road",
    "Renmin Road",
    "Zhongshan Road",
    "Jiefang Road",
    "Xinhua Road",
    "Heping Road",
    "Changjiang Road",
    "Binjiang Avenue",
    "Century Avenue",
    "Wenhua Road",
    "Chaoyang Road",
    "Tianfu Avenue",
    "Hubin Road",
)
# Common English names Chinese customers give in one system and not in another.
ENGLISH_NAMES = {
    "Fang": "Fiona",
    "Na": "Nina",
    "Min": "Mindy",
    "Jing": "Jenny",
    "Li": "Lily",
    "Ying": "Yvonne",
    "Wei": "William",
    "Jun": "Jason",
    "Ming": "Michael",
    "Hao": "Howard",
    "Lei": "Ray",
    "Jie": "Jack",
    "Tao": "Tony",
    "Chao": "Charles",
}


@dataclass(frozen=True)
class City:
    name: str
    region: str
    postcode_prefix: str
    latitude: float
    longitude: float
    stores: int
    population_weight: float


CITIES: tuple[City, ...] = (
    City("Shanghai", "East China", "200", 31.2304, 121.4737, 4, 1.6),
    City("Beijing", "North China", "100", 39.9042, 116.4074, 4, 1.5),
    City("Guangzhou", "South China", "510", 23.1291, 113.2644, 3, 1.1),
    City("Shenzhen", "South China", "518", 22.5431, 114.0579, 3, 1.1),
    City("Hangzhou", "East China", "310", 30.2741, 120.1551, 3, 0.9),
    City("Chengdu", "Southwest China", "610", 30.5728, 104.0668, 3, 0.9),
    City("Nanjing", "East China", "210", 32.0603, 118.7969, 2, 0.6),
    City("Wuhan", "Central China", "430", 30.5928, 114.3055, 2, 0.7),
    City("Suzhou", "East China", "215", 31.2989, 120.5853, 2, 0.5),
    City("Xi'an", "Northwest China", "710", 34.3416, 108.9398, 2, 0.5),
    City("Chongqing", "Southwest China", "400", 29.5630, 106.5516, 2, 0.7),
    City("Tianjin", "North China", "300", 39.3434, 117.3616, 1, 0.4),
    City("Xiamen", "East China", "361", 24.4798, 118.0894, 1, 0.3),
)


def transpose(rng: np.random.Generator, text: str) -> str:
    """Swap two neighbouring letters (``Zhang`` -> ``Zahng``)."""
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def drop_char(rng: np.random.Generator, text: str) -> str:
    """Lose one letter (``Xiaoyan`` -> ``Xiayan``), never the first."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text)))
    return text[:i] + text[i + 1 :]


def nickname(rng: np.random.Generator, given: str) -> str:
    """A name the same person goes by elsewhere: English name, diminutive or doubled syllable."""
    choice = rng.random()
    if given in ENGLISH_NAMES and choice < 0.5:
        return ENGLISH_NAMES[given]
    if choice < 0.75:
        return "Xiao" + given.lower()
    syllable = given[:2] if len(given) > 3 else given
    return syllable + syllable.lower()


def swap_day_month(day: date) -> date:
    """The US/China date-order mix-up; only possible when the day is a valid month."""
    if day.day <= 12 and day.day != day.month:
        return date(day.year, day.day, day.month)
    return date(day.year, day.month, max(1, day.day - 1))


def postcode_digit(rng: np.random.Generator, postcode: str) -> str:
    """One wrong digit in the last three (the city prefix is rarely mistyped)."""
    i = int(rng.integers(3, len(postcode)))
    digit = str((int(postcode[i]) + int(rng.integers(1, 9))) % 10)
    return postcode[:i] + digit + postcode[i + 1 :]


def abbreviate_address(address: str) -> str:
    """How the same address looks when typed quickly at a till."""
    return address.replace(" Road", " Rd").replace(" Avenue", " Ave").replace("No. ", "#")
