"""Chat slang, abbreviations and accent-less spellings, per language.

:mod:`libra.language.signals` holds the words a grammar book would list; this module
holds what people actually type in a Discord channel: "tqm", "no manches", "tmj",
"xke", "wsh", "fr fr no cap", "moin", Vietnamese without its tone marks ("cam on
ban"). Such tokens are often the whole message, too short for character
statistics, and most belong to one language only, so each weighs a little more than
a function word (:data:`SLANG_BONUS` in :mod:`libra.language.detect`).

Vietnamese typed without diacritics gets two pieces of evidence: a vocabulary of
common toneless syllables and chat abbreviations, and a syllable-shape check
(:func:`vietnamese_syllable`), since every Vietnamese word is one syllable built from
a small set of onsets, vowel groups and codas, which most words of other languages
are not.

Written from general knowledge of chat in each language; see
``bench/data/language_short.tsv`` for the set this was measured on (its held-out half
was never used to choose entries).
"""

from __future__ import annotations

import re

from libra.language.signals import WORD_LANGUAGES, unaccented

_SLANG: dict[str, str] = {
    "en": """fr frfr cap nocap bruh ngl ong deadass fam lowkey highkey sus based mid rizz
        bet ight aight tysm tyvm nvm wdym hbu wyd tn rn istg idc idgaf omw sry afk gimme
        welp yessir slay ggs gn gm icl fyi asap tho prolly kinda sorta dunno finna tryna
        bout bro dude sec yo hella legit vibe vibes lit goat cringe dope chill wth stfu
        ffs jk ily ilysm hmu lmk tmrw pls ppl cuz coz okay fire crying dead hopping
        asked anyways yeet pog poggers copium ratio w's l's bussin cooked""",
    "es": """tqm tkm tq ntp nmms nms alv bn xfa xq pq dnd tmb ke grax wey güey weon po
        cachai nel simón simon neta chido chida pedo pinche carnal compa cuate mames
        manches órale orale ándale andale ahorita pos pus sale valió valio flojera padre
        chafa mande porfa equisde ptm csm hdp boludo mina quilombo parce parcero bacano
        chimba vaina chamo chévere guay flipo hostia joder mazo tronco andas anda estás
        estas está llegué llegue mañana manana cañón canon rico jugando jugar pásame
        pasame ayúdame ayudame extraño extrano onda amo cansado cansada risa idea""",
    "pt": """tmj vamo lá slk mds pprt tlgd fds sdds vcs bjs bj vlw flw blz ctz hj mt oq
        kd cadê cade oxe oxi vish vixe eita aff affs mano mana parça véi vei tendi partiu
        bora sussa suave daora dahora pfv agr dps ngm ninguém ninguem tô cê vc mn amg miga
        rs porra caralho krl crl pqp puts irmão irmao valeu beleza tranquilo fofo fofa
        preguiça preguica saudade lindo linda céu ceu sei não vem indo jogar aconteceu
        morrendo rir ain gata gato""",
    "it": """xke xk xché tvb tvtb tat nn cmq raga sisi nono mo grz cvd xo fra zio boh mah
        bho ki dp qnd qlc qlcs daje ahó aò ammazza vabbè vabbuò figata schifo caldo
        madonna porca miseria palle scemo smettila serio fame meno cioè mille ovvio
        tranqui uè anvedi minchia cazzo siete arrivo faccio dici voglio niente""",
    "fr": """wsh wesh jpp mdr mdrr ptdr xptdr tkt jsp frr askip oklm ki koi jsuis jsais
        jpense jcrois jvais pa tt slt cv bjr bsr grv osef ct nan jrigole mskn vrm vrmt
        pk pck chui crevé frérot frero azy wallah wlh dsl tg ntm zebi sah kiffe kif relou
        chelou ouf vnr vazy poto reuf seum déter deter bails daron darone bouffe dodo
        taff boulot capte ptet tjrs tjs bcp qd jte jle mtn auj rdv stv dac dacc ui trkl
        tranquille jure quoi plus tard""",
    "de": """moin moinsen servus nö passt scho hdl hdgdl kb digga läuft gleich geil ma
        haste biste kannste willste weißte nee plan bock los später voll grüß gott oida
        gell gö krass lass sach isch keine zeit raus hä mega ab nix gehts eh tschö jo joa
        jep jup japp alda bruder vllt vlt evtl iwie irgendwie iwas nich isn gibs hamma
        simma bissl bisschen bissel des ois guad griaß wos ned hoi grüezi sali gäll gn8
        n8 kp leute danke""",
}
"""Chat words of one language's speakers (a word listed twice is evidence for both)."""

_EVERYDAY: dict[str, str] = {
    "en": """tbh imo imho cat saw watch watched watching stream streaming tonight tomorrow yesterday
        weekend guys everyone anybody nobody somebody hungry tired bored sick mad sad glad
        dead literally actually basically honestly seriously totally probably definitely
        wait hold stop start join left leave leaving back gone lost won win winning lose
        losing team match round server discord voice chat call ping lag laggy mic muted
        unmute screen share link send sent message text reply what's where's who's how's
        won't wouldn't couldn't shouldn't ain't y'know yup uh huh hmm oops yikes damn dang
        heck hell crazy insane wild weird nice sweet thanks tho though lemme gotta gonna""",
    "es": """wea weá uy ta tá bien mal pex crack muero risa asco durmieron vete estás cómo como
        hoy puedo sí si eres
        oye mira miren dormir duermo voy vamos vámonos
        juega juegan jugamos alguien nadie nunca siempre ahora luego después despues
        ahorita rato ratito sabía sabia sabes saben entiendo entendí entendi pasó paso
        pasa qué qué pues pues weyes morra morro chavo chava padrísimo padrisimo chingón
        chingon cabrón cabron mamá papá hermano hermana broma bromeas mentira verdad
        ganamos perdimos partida servidor gracias muchas nos vemos chau chao besos
        abrazo saludos buenísimo buenisimo malísimo feo bonito bonita lindo linda
        hermoso hermosa pelotudo che boludo re mal piola copado""",
    "pt": """achei acho foda deu ruim fechou fechar brincadeira boa quem vai aí ai tlg tô
        de boa jogar falou
        tá ta tava tô to vamo vamos bora galera gente pessoal
        alguém alguem ninguém nunca sempre agora depois antes ontem hoje cedo tarde
        dormir acordei acordar jogando joguei jogo partida ganhamos perdemos perdi ganhei
        verdade mentira sério serio certeza obrigado obrigada valeu brigado brigada
        muito muita pouco pouca bonito bonita feio feia chato chata legal massa dahora
        irado sinistro brabo braba mlk moleque mina mano mana véi velho cara caraca
        caramba nossa credo aiai ai ai ué uai tipo assim né ne sabe sabia entendi
        entendeu falou fala pô pow po""",
    "it": """fai credo siete morendo ridere su sentiamo raccomando niente so va
        troppo dopo prima domani ieri oggi sempre mai ancora già gia adesso
        subito allora quindi però pero perché perche perchè comunque insomma infatti
        davvero veramente sicuro certo esatto giusto sbagliato bravo brava bravi grazie
        prego scusa scusami figurati tranquillo tranquilla dormo dormire mangiare mangio
        cena pranzo colazione uscire esco usciamo andiamo vieni venite sei siamo siete
        sono stato stata fatto detto visto vista successo niente nulla qualcosa qualcuno
        nessuno tutti tutto bello bella brutto brutta cavolo accidenti mannaggia uffa
        evvai dajee oddio mamma bellaa""",
    "fr": """y oe c g t attends attend attendez mal pas flemme dispo dis ouf t'es là quoi tranquille
        matin midi demain hier
        aujourd'hui maintenant tout à l'heure t'es t'as j'ai j'suis c'est chaud grave
        dormir dors dodo mort rire fou folle ouf trop vraiment carrément carrement
        franchement sérieux serieux grave genre enfin bref bon ben bah euh hein ouais
        nan non oui merci stp svp désolé desole dsl pardon salut coucou bisous bise
        ça ca va vas vais allez aller venir viens venez fais faire faut veux voulez
        peux pouvez sais savez sait jamais toujours encore déjà deja aussi quoi pourquoi
        comment quand combien où ou là-bas ici mec meuf pote potes frère frere soeur
        kiffer kiffé kiffe relou chiant chiante nul nulle génial genial trop stylé
        stylé style""",
    "de": """so ach na jo pennen heut miteinander abend machst passt geht
        leute bist seid sind hab habe hast haben kann kannst können konnte
        muss musst müssen will willst wollen darf sollen mach machen macht gemacht geh
        gehen geht ging gehts komme kommst kommt kommen sag sagen sagt gesagt weiß weiss
        wissen schon noch nochmal mal halt eben doch eigentlich wirklich echt voll total
        ziemlich bisschen viel wenig gut schlecht schön schoen toll super geil krass
        cool nett lustig traurig müde muede hunger durst morgen heute gestern abend nacht
        woche wochenende jetzt gleich später spaeter sofort vielleicht natürlich
        natuerlich klar genau stimmt okay alles nichts etwas jemand niemand keiner
        leider danke bitte sorry entschuldigung tschüss tschuess ciao""",
}
"""Everyday chat vocabulary, typed with or without accents."""

_VI_TONELESS = """
    khong ko k hok hem hong dc duoc dk j gi z vay zay the thi ma la va voi cho toi
    ban bn minh mk mik anh a chi c em e oi nhe nha nhen nhá ha hả ah u uk uh um da
    vang chao cam on xin loi biet bik bit gi sao dau nao roi r chua di lam an com
    dang se da nguoi ng hom hnay hqua nay mai gio luc vay the qua lam nua thoi vui
    buon nhieu choi ngu ngon nho thuong yeu ghe that troi ua hay gap giup on ve nha
    cau to tao may mi bo me ong ba co thay di dau bung met chan doi khat no hoc
    truong lop thi xong chet hic huhu hihi haha kaka keke oke okie oki uhm bao nhieu
    tien mua ban gia re dat rat qua lam hay gioi dep xau ngon sinh nhat chuc mung
    oke hong hok khum hum bik biet hieu nhe nha nhen ne nè do đó
    bay gio bh bjo bg mn moi nguoi ca nha nhau cung voi tui tao may may no ho
    chung minh bon ban be nguoi yeu ny vk ck vo chong con chau gia dinh me ba
    thich ghet so lo buon vui khoc cuoi mat cuoi hehe huhu hix hjhj hic trc sau
    dang dag dg se s da dc r roi chua chx cx cung vs voi ms moi thi thoi tk thang
    con cai nay kia ay ny ni do doan dung sai chac chan hen hong xem coi nghe doc
    viet choi game net dien thoai dt may tinh mt ngu day an uong tam rua di ve den
    toi sang nay toi qua ngay mai hom qua tuan sau thang sau nam sau luc nao bao gio
    hanh phuc ngay dem toi sang chieu trua tuan thang nam nghi ngoi viec cong ty
    dien thoai nhan tin goi noi ns nghe thay hieu hiu muon can phai duoc nen neu
    thi vi tai sao vay luon lien ngay nhanh cham sau truoc trong ngoai tren duoi
    o day do kia ai gi nao may bao chung tui bon tụi
"""

VI_TONELESS: frozenset[str] = frozenset(_VI_TONELESS.split())
"""Vietnamese words as typed without diacritics, and their chat abbreviations."""

_ONSETS = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx]"
_NUCLEI = (
    "uyeu|uoi|uou|uya|uye|oai|oay|oeo|ieu|yeu|uay|"
    "ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|ya|ye|"
    "a|e|i|o|u|y"
)
_CODAS = "ch|ng|nh|[cmnpt]"
_SYLLABLE_RE = re.compile(rf"^(?:{_ONSETS})?(?:{_NUCLEI})(?:{_CODAS})?$")


def vietnamese_syllable(word: str) -> bool:
    """Whether ``word`` (lower case, no diacritics) has the shape of a Vietnamese syllable.

    Vietnamese writes one syllable per word, so "khong", "nguoi" and "an" fit while
    "strength", "bus" or "jugar" do not (consonant clusters, final -s, -r, -l, -d).
    Many short words of other languages fit too ("mi", "no", "sa"), so the shape is
    weak evidence, used only when every word of a message has it.
    """
    return len(word) <= 7 and _SYLLABLE_RE.match(word) is not None


def _build(source: dict[str, str]) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for language, words in (*source.items(), *_EVERYDAY.items()):
        for word in words.split():
            table.setdefault(word, set()).add(language)
            table.setdefault(unaccented(word), set()).add(language)
    for word in VI_TONELESS:
        table.setdefault(word, set()).add("vi")
    # A word the function-word table already shares among languages ("bien", "la")
    # must not tip the balance by being listed again under one of them here.
    return {word: frozenset(langs - WORD_LANGUAGES.get(word, frozenset()))
            if len(WORD_LANGUAGES.get(word, ())) >= 2 else frozenset(langs)
            for word, langs in table.items()}


SLANG_LANGUAGES: dict[str, frozenset[str]] = _build(_SLANG)
"""Lower-cased chat word -> the languages whose chat uses it."""

_RUNS_RE = re.compile(r"(.)\1{2,}")
_PAIRS_RE = re.compile(r"(.)\1+")


def squeeze_variants(word: str) -> tuple[str, ...]:
    """Spellings of an elongated word to look up: "lmaooo" -> "lmao", "siii" -> "si"."""
    if _PAIRS_RE.search(word) is None:
        return ()
    once = _RUNS_RE.sub(r"\1", word)
    twice = _PAIRS_RE.sub(r"\1", word)
    return tuple(dict.fromkeys(v for v in (once, _RUNS_RE.sub(r"\1\1", word), twice)
                               if v != word))
