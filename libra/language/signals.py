"""Cheap, explainable evidence for short messages, written from general knowledge.

Character n-gram statistics need a few dozen characters to be reliable; chat lines
are often two words. These tables add what a human reader uses instead: the
function words and chat words of each language, and the letters only some
languages write (ñ, ß, ã, œ, ư ...). Each hit adds a fixed bonus to the languages
it points at; words shared by several languages add to each and so do not tip the
balance by themselves. Tables were written before the benchmark set existed.
"""

from __future__ import annotations

import re
import unicodedata

# --- Latin-script words ----------------------------------------------------------------
# Function words, greetings and chat words. A word listed under several languages is
# evidence for each of them.

_WORDS: dict[str, str] = {
    "en": """the a an and or but is are was were be been am i you he she it we they me my
        your his her our their this that these those what who where when why how which
        do does did don't doesn't didn't can can't could would should will won't not no yes
        yeah yep nope to of in on at for with from by about just really very so too also
        have has had i'm it's that's there's what's let's gonna wanna gotta thanks thank
        thx ty please pls plz hi hello hey bye good great nice cool awesome sorry lol lmao
        rofl omg btw idk imo tbh brb gg np u ur r im dont cant wont didnt isnt wasnt
        anyone someone something anything here there today tomorrow tonight now know
        think want need like love see get got go going went come help work time guys
        morning night thing stuff why's does sure maybe lemme ya yall y'all""",
    "es": """a el la los las un una unos unas y o pero es son está están estoy estás era
        fue ser yo tú tu él ella nosotros ellos me te se mi mis su sus qué que quién
        dónde donde cuándo cuando por para porque cómo como con sin de del al en muy
        más mas también ya no sí si hola gracias buenas buenos días noches tardes adiós
        vale bueno claro jaja jajaja jeje xd q pq xq tmb tb k oye vamos hay hace tengo
        tienes tiene quiero puedo sabes nada todo todos algo alguien aquí ahí eso esto
        esta este esa ese bien mal mucho poco hoy mañana ahora luego pues entonces
        gente amigo amigos tío tía che boludo wey güey chido qué tal""",
    "fr": """le la les un une des et ou mais est sont suis es était être je tu il elle
        on nous vous ils elles me te se mon ma mes ton ta tes son sa ses notre votre
        leur quoi qui où quand pourquoi comment avec sans de du au aux en dans pour par
        sur très plus aussi déjà ne pas oui non si bonjour bonsoir salut merci coucou
        bonne nuit soir ça ca c'est j'ai je suis t'es y'a il y a mdr ptdr lol stp svp
        bjr slt cc jsp tkt chui chuis bah ben bon bien trop fait faire peux veux sais
        rien tout tous quelqu'un ici là aujourd'hui demain maintenant alors donc voilà
        vraiment genre ouais wesh mec meuf gars""",
    "de": """der die das den dem des ein eine einen einem einer und oder aber ist sind
        bin bist war waren sein ich du er sie es wir ihr mich dich mir dir sich mein
        meine dein deine sein unser euer was wer wo wann warum wie welche mit ohne von
        zu zum zur im in auf für über bei nach sehr mehr auch schon nicht nein ja doch
        hallo moin servus tschüss tschüs danke bitte gut guten morgen abend nacht
        tag heute morgen jetzt hier da dann also gibt habe hast hat kann kannst will
        willst weiß mal noch nur alles nichts jemand etwas leute digga alter geil krass
        oder nee jo gerade echt halt eigentlich vielleicht""",
    "pt": """o a os as um uma uns umas e ou mas é são está estão estou era foi ser eu
        você vc voce ele ela nós eles elas me te se meu minha seu sua nosso que quem
        onde quando porque por que como com sem de do da dos das no na nos nas em para
        pra pro muito mais também tb tbm já não sim oi olá obrigado obrigada valeu
        bom boa dia noite tarde tchau tudo bem beleza kkk kkkk kkkkk rs né cara mano
        galera gente aqui ali hoje amanhã agora então entao isso isto esse essa nada
        alguém algo tô tá tava vou vai vamos tenho tem quero posso sei pq blz
        fala eae opa""",
    "it": """a il lo la i gli le un uno una e o ma è sono sei era essere io tu lui lei
        noi voi loro mi ti si mio mia tuo tua suo sua che chi dove quando perché
        perche come con senza di del della dei delle da dal in nel nella su per molto
        più anche già non no sì si ciao grazie buongiorno buonasera buonanotte prego
        allora quindi bene male tutto tutti niente qualcuno qualcosa qui qua lì oggi
        domani adesso ora ho hai ha abbiamo fatto fare posso puoi voglio so sai cosa
        ahah ahahah cmq xké raga ragazzi dai boh vabbè vabbe figo davvero proprio
        anch'io c'è""",
    "vi": """và là của có không khong ko được dc đc này đó thì mà với cho tôi toi bạn
        mình minh anh chị em ơi nhé nhe nha nhá ạ ừ vâng dạ chào chao cảm ơn cam xin
        lỗi biết biet gì sao đâu nào rồi roi chưa chua đi làm ăn đang dang sẽ đã
        người nguoi hôm hom giờ gio vậy vay thế quá lắm hả hihi đấy""",
}

_MORE_WORDS: dict[str, str] = {
    "en": """same check cool nice one let all if then than out up down back still again only
        even much many some any every never always other new old right wrong last first next
        day week year people guy game play playing make made take say said tell look find
        give use try feel mean keep happy welcome birthday done ready later soon already
        though because cuz bc whats hows wtf ikr smh ngl dm wdym hbu wyd thats youre
        theyre ive ill isn't aren't haven't anyway everyone""",
    "es": """lo le les nos os ni siento voy vas va vamos eres soy somos hacer haces hago
        puedes quieres sé hoy ayer siempre nunca también tambien verdad cierto buena mejor
        peor cosa cosas tiempo año perdón genial chévere pana parce guay mola neta órale
        porfa xfa ahorita después antes ustedes usted cuánto cuál cual hasta desde entre
        sobre dormir casa razón""",
    "fr": """d'accord t'as j'suis m'en fous ouais grave bisous raison va vais vas allez
        joue jouer chez moi toi lui eux beaucoup peu encore toujours jamais après avant
        depuis comme faut fais fait dit dis vois vu euh hein bref truc trucs super génial
        désolé pardon sérieux putain zut n'est qu'est qu'il j'aime t'inquiète c'était
        avez avons ai as a""",
    "de": """na klar dabei bock pennen später sieht aus sorge recht dir dich uns euch geht
        gehts geht's machen mach machst gibt's schön schöne schönen viel viele immer nie
        wieder gleich erst wenn weil dass ob kein keine keinen nix ganz ehrlich genau
        stimmt naja egal spiel spielen zocken gestern gute glückwunsch man bis bald ne nen
        hab habt haben wird werden wurde würde sollte muss musst müssen cool""",
    "pt": """eai eaí bora desculpa saudade saudades certeza demais sério aí ai lá cá agr hj
        vdd mt mto msm nd qnd cmg ctz mesmo ainda sempre nunca depois antes coisa coisas
        jogo jogar dormir fazer faz fiz pode quer estava ficar fica legal massa show poxa
        putz nossa caramba eita uai vocês voces nao sao entao tambem obg vlw flw falou
        casa razão""",
    "it": """cosa fai faccio fa stasera andiamo vado vai va ragione dispiace certo buon buona
        compleanno bello bella ci vi ne sto stai sta arrivando grande mamma mia dopo prima
        sempre mai ancora solo troppo poco nulla vero bravo brava forza amico amici gioco
        giocare partita ieri nessuno tranquillo comunque magari insomma ecco eh beh capito
        perfetto scusa scusate salve cioè tipo degli alla allo sul questo questa quello
        quella casa dormire""",
    "vi": """choi di nua ngu dau thoi vui buon nhieu duoc chiu bao sinh nhat chuc mung qua
        ne nhà ngủ nữa thôi vui buồn nhiều chơi đúng""",
}


def unaccented(word: str) -> str:
    """``word`` without its accents ("está" -> "esta"): how chat often types it."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _build_word_table(source: dict[str, str]) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for language, words in source.items():
        for word in words.split():
            table.setdefault(word, set()).add(language)
            if language != "vi":  # toneless Vietnamese has its own table
                table.setdefault(unaccented(word), set()).add(language)
    return {word: frozenset(langs) for word, langs in table.items()}


WORD_LANGUAGES: dict[str, frozenset[str]] = _build_word_table(
    {code: _WORDS[code] + " " + _MORE_WORDS.get(code, "") for code in _WORDS}
)
"""Lower-cased word -> the Latin-script languages it is typical of."""

WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
"""Words, keeping apostrophe contractions (``c'est``, ``don't``) whole."""

# --- Latin-script letters ------------------------------------------------------------

LETTER_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ñ": ("es",), "¿": ("es",), "¡": ("es",),
    "ß": ("de",), "ä": ("de",), "ö": ("de",), "ü": ("de", "es"),
    "ã": ("pt", "vi"), "õ": ("pt", "vi"), "ç": ("fr", "pt"),
    "œ": ("fr",), "æ": ("fr",), "ë": ("fr",), "ï": ("fr",), "î": ("fr",), "û": ("fr",),
    "è": ("fr", "it", "vi"), "ê": ("fr", "pt", "vi"), "â": ("fr", "pt", "vi"),
    "ô": ("fr", "pt", "vi"), "à": ("fr", "it", "pt", "vi"), "ù": ("it", "fr", "vi"),
    "ì": ("it", "vi"), "ò": ("it", "vi"), "é": ("fr", "es", "pt", "it", "vi"),
    "á": ("es", "pt", "vi"), "í": ("es", "pt", "vi"), "ó": ("es", "pt", "vi"),
    "ú": ("es", "pt", "vi"), "đ": ("vi",), "ư": ("vi",), "ơ": ("vi",), "ă": ("vi",),
}
"""Letters (lower case) and the languages whose spelling uses them."""

VIETNAMESE_RANGE = (0x1EA0, 0x1EF9)
"""Latin Extended Additional letters with stacked tone marks: only Vietnamese."""

# --- Chinese variants -----------------------------------------------------------------
# Pairs (simplified, traditional) of common characters that differ between the two
# standards. Characters shared by both (or ambiguous, such as 后/後 and 里/裡, where
# the "simplified" form is also a valid traditional character) are left out.

_ZH_PAIRS = (
    "这這 们們 说說 个個 来來 时時 会會 为為 对對 国國 学學 么麼 没沒 还還 见見 谢謝 吗嗎 "
    "过過 问問 题題 让讓 给給 话話 请請 爱愛 点點 听聽 边邊 样樣 开開 关關 发發 现現 实實 "
    "经經 长長 门門 间間 东東 车車 马馬 鸟鳥 鱼魚 语語 读讀 写寫 认認 识識 记記 错錯 钱錢 "
    "买買 卖賣 电電 脑腦 机機 气氣 饭飯 饿餓 觉覺 应應 该該 从從 场場 头頭 万萬 与與 业業 "
    "两兩 乐樂 书書 习習 亲親 体體 儿兒 几幾 动動 华華 单單 号號 员員 图圖 坏壞 块塊 声聲 "
    "处處 备備 妈媽 宝寶 导導 岁歲 师師 帮幫 广廣 张張 当當 总總 戏戲 报報 无無 显顯 杂雜 "
    "条條 极極 欢歡 汉漢 湾灣 灯燈 烦煩 热熱 独獨 环環 画畫 确確 礼禮 离離 种種 笔筆 简簡 "
    "类類 红紅 级級 约約 线線 练練 组組 终終 绝絕 统統 续續 网網 联聯 脸臉 节節 药藥 虽雖 "
    "观觀 视視 计計 讨討 讲講 许許 论論 设設 证證 试試 谁誰 谈談 贵貴 费費 资資 赛賽 转轉 "
    "较較 输輸 达達 运運 进進 远遠 连連 选選 钟鐘 铁鐵 银銀 闻聞 队隊 阳陽 难難 须須 顾顧 "
    "预預 领領 颜顏 风風 飞飛 馆館 验驗 鸡雞 麦麥 龙龍 挂掛 务務 啰囉 哟喲 态態 恶惡 "
    "满滿 欧歐 猪豬 员員 爷爺 奋奮 紧緊 严嚴 烧燒 馒饅 饺餃 梦夢 写寫 声聲 厉厲 没沒 啥啥 "
    "赞讚 废廢 刚剛 断斷 尴尷 夸誇 饱飽 闹鬧 酱醬 决決 净淨 参參 办辦 惊驚 "
    "虑慮 脏髒 帅帥 吓嚇 坚堅 尽盡 层層 岛島 摆擺 杀殺 负負 责責 贴貼 赢贏 陆陸 随隨"
)

SIMPLIFIED_ONLY: frozenset[str] = frozenset(p[0] for p in _ZH_PAIRS.split() if p[0] != p[1])
TRADITIONAL_ONLY: frozenset[str] = frozenset(
    [p[1] for p in _ZH_PAIRS.split() if p[0] != p[1]] + list("裡裏後臺於並隻髮鬆準幹麵纔衝週遊")
)
"""Traditional-only characters, including forms whose simplified partner (里, 后, 台,
干 ...) is also a valid traditional character and so proves nothing itself."""

TAIWAN_PARTICLES: frozenset[str] = frozenset("喔欸囉耶齁蛤揪掰")
"""Particles and chat words far more common in Taiwanese chat than in mainland chat
(齁 and 蛤 as interjections, 揪 "get a group together", 掰掰 "bye")."""

TAIWAN_LATIN_RE = re.compile(r"(?<![A-Za-z])(?:XD+|QQ|der)(?![A-Za-z])")
"""Latin chat tokens that, in Chinese text, are typical of Taiwanese forums (PTT,
Dcard): "XD" and "QQ" (crying); mainland chat laughs "hhh" or "233" instead."""
