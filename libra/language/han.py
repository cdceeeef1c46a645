"""Japanese written in kanji only, told apart from Chinese.

Most Japanese messages contain kana and are settled by the script rule; short ones
often do not ("遅刻", "残業", "休講", "只今", "電車遅延"). A reader still tells them
from Chinese by three things, which this module counts:

- **Japanese-only character forms**: the post-war *shinjitai* simplified some
  characters differently from mainland China (気, not 气 or 氣; 駅, not 驿 or 驛; 遅,
  not 迟 or 遲) and Japan coined a few of its own (込, 働, 畑); the iteration mark 々
  is Japanese too. One of them is proof.
- **Japanese words** built from characters Chinese shares ("只今", "残業", "休講",
  "出勤"): evidence, weaker than a form.
- **Both standards at once**: Japanese writes some characters as simplified Chinese
  does (会, 来, 残) and others as traditional Chinese does (議, 週, 業); a message
  mixing the two ("会議", "来週", "残業") is Japanese, since Chinese writers stay
  within one standard.

Against these stand the function words and particles of Chinese chat (的, 吗, 你,
很, 啊 ...), which kanji-only Japanese does not use.
"""

from __future__ import annotations

from libra.language.signals import SIMPLIFIED_ONLY, TAIWAN_PARTICLES, TRADITIONAL_ONLY

JAPANESE_FORMS: frozenset[str] = frozenset(
    "遅駅気帰円図払楽売読歩険験経続広転伝団戦単関変満様悪発実県乗桜沢黒壊拝隠薬聴蔵髪"
    "労営覚辺焼効勧歓観権価児剤従鉄銭渋塩絵駆縄圧囲栄両総緑巻晩歳毎済産脳訳軽録雑顔"
    "麺戸収絶衆郷醤鋭顕駄亀専徳歴竜仏仮剣倹悩懐挙捜択拡揺摂斎暦検歯渉渇涙浜滝猟獣畳"
    "痩穏稲粋継縁縦繊臓舗荘蛍覧譲豊賛酔醸釈鉱鋳錬闘陥霊頼騒髄鶏齢黙弾廃帯巣恵対応"
    "斉剰込働畑峠枠匂栃雫凪辻々〆"
)
"""Characters whose Japanese form is neither the simplified nor the traditional one."""

_JAPANESE_WORDS = """
    只今 残業 休講 休校 遅刻 出勤 退勤 出社 退社 有給 上司 先輩 後輩 社畜 今週 先週
    来週 寝坊 寝落 爆睡 誤爆 神回 既読 未読 無理 残念 大丈夫 宿題 授業 放課後 部活
    締切 承知 御意 終電 始発 新幹線 予定 仕事 本当 一緒 面白 無料 自分 今度 明後日
    一応 会社 欠席 本日 今北 帰宅 電車 会議 飲会 我慢 明日 今日 昨日 社会人 定期券
    出張 朝 乙 草 暇
"""
JAPANESE_WORDS: frozenset[str] = frozenset(_JAPANESE_WORDS.split())
"""Words of Japanese chat written with characters Chinese also has."""

SHARED_WITH_SIMPLIFIED: frozenset[str] = frozenset(
    "会学来当万与号体声宝礼条独画写点猪灯残浅将尽断辞静湿昼触届寝径数楼国区医旧乱双参恋"
    "随湾麦机欧"
)
"""Simplified-Chinese forms Japanese writes the same way (traditional Chinese does not)."""

TRADITIONAL_NOT_JAPANESE: frozenset[str] = frozenset(
    "來兒兩單嚴國圖壞學實寫寶對廣從惡應戲條樂樣歐歡歲氣沒滿灣燈燒獨畫當發禮絕經總續纔聲聽腦"
    "臉臺與萬藥處號裡覺觀說證讀讓豬賣轉這邊錢鐵關雖雜雞顏顯驗體髮鬆麥麵麼點們嗎囉喲幫讚廢斷"
    "尷鬧醬淨參辦髒擺贏盡隨"
)
"""Traditional-Chinese forms Japanese writes otherwise (國 is 国, 說 is 説, 這 is not
used). The rest of the traditional-only table (時, 語, 電, 東 ...) Japanese writes
exactly so, which is why "東京" or "電車" alone cannot tell zh-tw from Japanese."""

CHINESE_MARKERS: frozenset[str] = frozenset(
    "的吗嗎呢吧这這那么麼什没沒很还说說啊呀哦嗯哈啦嘛个给你我她们們咱怎谁誰吃喝让讓"
    "咋啥俺哪吵别跟把也"
) | TAIWAN_PARTICLES
"""Function words and chat particles of Chinese that kanji-only Japanese does not use."""


def japanese_evidence(text: str) -> tuple[float, bool]:
    """How strongly kanji-only ``text`` reads as Japanese, and whether a form proves it.

    The score counts 2 per Japanese form, 1 per Japanese word (½ for one-character
    words) and 1 for mixing the two standards; below 1 it is a hint, not evidence.
    """
    forms = sum(ch in JAPANESE_FORMS for ch in text)
    # A one-character word ("草", "乙") is half the evidence: Chinese chat has them too.
    words = sum(text.count(word) * min(1.0, len(word) / 2)
                for word in JAPANESE_WORDS if word[0] in text)
    simplified = {ch for ch in text if ch in SIMPLIFIED_ONLY or ch in SHARED_WITH_SIMPLIFIED}
    mixed = bool(simplified) and simplified <= SHARED_WITH_SIMPLIFIED and any(
        ch in TRADITIONAL_ONLY for ch in text)
    return 2.0 * forms + words + 1.0 * mixed, forms > 0


def chinese_evidence(text: str) -> float:
    """How strongly Han ``text`` reads as Chinese rather than Japanese.

    Chinese particles count, and so do the forms of either standard Japanese never
    writes (头, 说, 們, 國): "今日头条" is Chinese although 今日 is a Japanese word.
    Zero means Japanese could have written every character.
    """
    return float(sum(ch in CHINESE_MARKERS or ch in TRADITIONAL_NOT_JAPANESE
                     or (ch in SIMPLIFIED_ONLY and ch not in SHARED_WITH_SIMPLIFIED)
                     for ch in text))
