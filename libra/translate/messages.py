"""What translation tells users, in each of Libra's twelve languages.

Transport-neutral texts: the Discord commands (``/translate``, the Translate menu,
``/translations``, ``/glossary``, ``/autotranslate``) and the opt-in relay format them.
Looked up like Libra's other messages (:func:`libra.chat.messages.localize`): a
regional code falls back to its base language, ``zh-tw`` to ``zh-cn``, anything else
to English; a template that cannot be filled falls back to English with "?" for what
is missing. ``tests/unit/translate/test_messages_complete.py`` checks that every key
has all twelve languages with English's placeholders.
"""

from __future__ import annotations

from libra.chat.messages import localize, user_message

LANGUAGES = ("en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "ru", "pt", "it", "vi")
"""The languages every message is written in (Libra's supported languages)."""


def _everywhere(template: str) -> dict[str, str]:
    """A text without words (only symbols and placeholders): the same in every language."""
    return dict.fromkeys(LANGUAGES, template)


_TEXTS: dict[str, dict[str, str]] = {
    "badge": _everywhere("-# {source} → {target}"),
    "nothing": {
        "en": "Nothing to translate: emoji, mentions, links, code and chat words like "
              "“gg” read the same in every language.",
        "ko": "번역할 내용이 없습니다: 이모지, 멘션, 링크, 코드, “gg” 같은 채팅 표현은 "
              "그대로 읽힙니다.",
        "ja": "翻訳するものがありません:絵文字、メンション、リンク、コード、「gg」などの"
              "チャット語はどの言語でも同じです。",
        "zh-cn": "没有需要翻译的内容:表情、提及、链接、代码和“gg”之类的聊天用语"
                 "在任何语言中都一样。",
        "zh-tw": "沒有需要翻譯的內容:表情、提及、連結、程式碼和「gg」之類的聊天用語"
                 "在任何語言中都一樣。",
        "es": "No hay nada que traducir: los emoji, menciones, enlaces, código y palabras de "
              "chat como «gg» se leen igual en todos los idiomas.",
        "fr": "Rien à traduire : les emoji, mentions, liens, le code et les mots de chat comme "
              "« gg » se lisent pareil dans toutes les langues.",
        "de": "Nichts zu übersetzen: Emoji, Erwähnungen, Links, Code und Chat-Wörter wie "
              "„gg“ lesen sich in jeder Sprache gleich.",
        "ru": "Переводить нечего: эмодзи, упоминания, ссылки, код и словечки вроде «gg» "
              "читаются одинаково на любом языке.",
        "pt": "Nada para traduzir: emoji, menções, links, código e gírias de chat como "
              "“gg” são iguais em qualquer idioma.",
        "it": "Niente da tradurre: emoji, menzioni, link, codice e parole da chat come "
              "«gg» si leggono uguali in ogni lingua.",
        "vi": "Không có gì để dịch: emoji, lượt nhắc, liên kết, mã và từ chat như “gg” "
              "đọc giống nhau ở mọi ngôn ngữ.",
    },
    "same": {
        "en": "This is already in {language}: nothing to translate.",
        "ko": "이미 {language}입니다. 번역할 필요가 없습니다.",
        "ja": "すでに{language}です。翻訳は不要です。",
        "zh-cn": "这已经是{language}了,无需翻译。",
        "zh-tw": "這已經是{language}了,無需翻譯。",
        "es": "Esto ya está en {language}: no hay nada que traducir.",
        "fr": "C'est déjà en {language} : rien à traduire.",
        "de": "Das ist schon {language}: nichts zu übersetzen.",
        "ru": "Это уже на языке {language}: переводить нечего.",
        "pt": "Isto já está em {language}: nada para traduzir.",
        "it": "È già in {language}: niente da tradurre.",
        "vi": "Nội dung này đã là {language}: không cần dịch.",
    },
    "failed": {
        "en": "I couldn't translate this reliably ({reason}), so I'm not showing a "
              "translation that may be wrong. Please try again, or rephrase it.",
        "ko": "신뢰할 수 있게 번역하지 못했습니다 ({reason}). 틀릴 수 있는 번역은 보여 드리지 "
              "않습니다. 다시 시도하거나 바꿔 써 주세요.",
        "ja": "確実に翻訳できませんでした({reason})。誤っているかもしれない翻訳は表示しません。"
              "もう一度試すか、言い換えてください。",
        "zh-cn": "我无法可靠地翻译这段内容({reason}),所以不显示可能有误的译文。"
                 "请重试,或换一种说法。",
        "zh-tw": "我無法可靠地翻譯這段內容({reason}),所以不顯示可能有誤的譯文。"
                 "請重試,或換個說法。",
        "es": "No pude traducir esto con fiabilidad ({reason}), así que no muestro una "
              "traducción que podría estar mal. Inténtalo de nuevo o reformúlalo.",
        "fr": "Je n'ai pas pu traduire ceci de façon fiable ({reason}), donc je n'affiche pas "
              "une traduction peut-être fausse. Réessaie ou reformule.",
        "de": "Ich konnte das nicht zuverlässig übersetzen ({reason}) und zeige keine "
              "Übersetzung, die falsch sein könnte. Bitte versuch es noch einmal oder "
              "formuliere es um.",
        "ru": "Не удалось надёжно перевести это ({reason}), поэтому я не показываю перевод, "
              "который может быть неверным. Попробуйте ещё раз или перефразируйте.",
        "pt": "Não consegui traduzir isto de forma confiável ({reason}), então não mostro "
              "uma tradução que pode estar errada. Tente de novo ou reformule.",
        "it": "Non sono riuscita a tradurlo in modo affidabile ({reason}), quindi non mostro "
              "una traduzione che potrebbe essere sbagliata. Riprova o riformula.",
        "vi": "Mình không dịch được nội dung này một cách đáng tin cậy ({reason}), nên không "
              "hiển thị bản dịch có thể sai. Hãy thử lại hoặc diễn đạt khác đi.",
    },
    "failed_beneath": {
        "en": "-# (Libra couldn't translate this message reliably into {language}.)",
        "ko": "-# (Libra가 이 메시지를 {language}(으)로 확실하게 번역하지 못했습니다.)",
        "ja": "-# (Libraはこのメッセージを{language}に確実に翻訳できませんでした。)",
        "zh-cn": "-# (Libra 无法将这条消息可靠地翻译成{language}。)",
        "zh-tw": "-# (Libra 無法將這則訊息可靠地翻譯成{language}。)",
        "es": "-# (Libra no pudo traducir este mensaje al {language} con fiabilidad.)",
        "fr": "-# (Libra n'a pas pu traduire ce message en {language} de façon fiable.)",
        "de": "-# (Libra konnte diese Nachricht nicht zuverlässig ins {language} übersetzen.)",
        "ru": "-# (Libra не удалось надёжно перевести это сообщение на {language}.)",
        "pt": "-# (A Libra não conseguiu traduzir esta mensagem para {language} com "
              "confiança.)",
        "it": "-# (Libra non è riuscita a tradurre questo messaggio in {language} in modo "
              "affidabile.)",
        "vi": "-# (Libra không dịch được tin nhắn này sang {language} một cách đáng tin cậy.)",
    },
    "unknown_language": {
        "en": "I don't know the language “{name}”. I can translate into: {choices}.",
        "ko": "“{name}” 언어를 모릅니다. 번역 가능한 언어: {choices}.",
        "ja": "「{name}」という言語は分かりません。翻訳できる言語: {choices}。",
        "zh-cn": "我不认识“{name}”这种语言。可以翻译成:{choices}。",
        "zh-tw": "我不認識「{name}」這種語言。可以翻譯成:{choices}。",
        "es": "No conozco el idioma «{name}». Puedo traducir a: {choices}.",
        "fr": "Je ne connais pas la langue « {name} ». Je traduis vers : {choices}.",
        "de": "Die Sprache „{name}“ kenne ich nicht. Ich übersetze in: {choices}.",
        "ru": "Я не знаю язык «{name}». Могу переводить на: {choices}.",
        "pt": "Não conheço o idioma “{name}”. Posso traduzir para: {choices}.",
        "it": "Non conosco la lingua «{name}». Posso tradurre in: {choices}.",
        "vi": "Mình không biết ngôn ngữ “{name}”. Mình dịch được sang: {choices}.",
    },
    "too_long": {
        "en": "That text is {length} characters; I translate up to {limit} at a time. "
              "Please split it.",
        "ko": "텍스트가 {length}자입니다. 한 번에 {limit}자까지 번역할 수 있습니다. 나눠 주세요.",
        "ja": "テキストが{length}文字あります。一度に翻訳できるのは{limit}文字までです。"
              "分けてください。",
        "zh-cn": "这段文字有 {length} 个字符,我一次最多翻译 {limit} 个。请分开发送。",
        "zh-tw": "這段文字有 {length} 個字元,我一次最多翻譯 {limit} 個。請分開傳送。",
        "es": "Ese texto tiene {length} caracteres; traduzco hasta {limit} a la vez. "
              "Divídelo, por favor.",
        "fr": "Ce texte fait {length} caractères ; je traduis jusqu'à {limit} à la fois. "
              "Découpe-le, s'il te plaît.",
        "de": "Der Text hat {length} Zeichen; ich übersetze bis zu {limit} auf einmal. "
              "Bitte teile ihn auf.",
        "ru": "В тексте {length} символов; за раз я перевожу до {limit}. Разделите его, "
              "пожалуйста.",
        "pt": "Esse texto tem {length} caracteres; traduzo até {limit} de cada vez. "
              "Divida-o, por favor.",
        "it": "Il testo è di {length} caratteri; ne traduco fino a {limit} alla volta. "
              "Dividilo, per favore.",
        "vi": "Đoạn văn có {length} ký tự; mỗi lần mình dịch tối đa {limit}. Hãy chia nhỏ ra.",
    },
    "empty_message": {
        "en": "That message has no text to translate.",
        "ko": "이 메시지에는 번역할 텍스트가 없습니다.",
        "ja": "このメッセージには翻訳するテキストがありません。",
        "zh-cn": "这条消息没有可翻译的文字。",
        "zh-tw": "這則訊息沒有可翻譯的文字。",
        "es": "Ese mensaje no tiene texto que traducir.",
        "fr": "Ce message n'a pas de texte à traduire.",
        "de": "Diese Nachricht hat keinen Text zum Übersetzen.",
        "ru": "В этом сообщении нет текста для перевода.",
        "pt": "Essa mensagem não tem texto para traduzir.",
        "it": "Quel messaggio non ha testo da tradurre.",
        "vi": "Tin nhắn đó không có chữ nào để dịch.",
    },
    "history_empty": {
        "en": "You have no translations stored.",
        "ko": "저장된 번역이 없습니다.",
        "ja": "保存された翻訳はありません。",
        "zh-cn": "你没有已保存的翻译。",
        "zh-tw": "你沒有已儲存的翻譯。",
        "es": "No tienes traducciones guardadas.",
        "fr": "Tu n'as aucune traduction enregistrée.",
        "de": "Du hast keine gespeicherten Übersetzungen.",
        "ru": "У вас нет сохранённых переводов.",
        "pt": "Você não tem traduções guardadas.",
        "it": "Non hai traduzioni salvate.",
        "vi": "Bạn chưa có bản dịch nào được lưu.",
    },
    "history_none_match": {
        "en": "None of your translations matches “{query}”.",
        "ko": "“{query}”와(과) 일치하는 번역이 없습니다.",
        "ja": "「{query}」に一致する翻訳はありません。",
        "zh-cn": "没有与“{query}”匹配的翻译。",
        "zh-tw": "沒有與「{query}」相符的翻譯。",
        "es": "Ninguna de tus traducciones coincide con «{query}».",
        "fr": "Aucune de tes traductions ne correspond à « {query} ».",
        "de": "Keine deiner Übersetzungen passt zu „{query}“.",
        "ru": "Ни один ваш перевод не совпадает с «{query}».",
        "pt": "Nenhuma das suas traduções corresponde a “{query}”.",
        "it": "Nessuna delle tue traduzioni corrisponde a «{query}».",
        "vi": "Không có bản dịch nào của bạn khớp với “{query}”.",
    },
    "history_header": {
        "en": "Your translations ({total}{matching}) — page {page} of {pages}",
        "ko": "내 번역 ({total}{matching}) — {pages}쪽 중 {page}쪽",
        "ja": "あなたの翻訳({total}{matching})— {page}/{pages} ページ",
        "zh-cn": "你的翻译({total}{matching})— 第 {page}/{pages} 页",
        "zh-tw": "你的翻譯({total}{matching})— 第 {page}/{pages} 頁",
        "es": "Tus traducciones ({total}{matching}) — página {page} de {pages}",
        "fr": "Tes traductions ({total}{matching}) — page {page} sur {pages}",
        "de": "Deine Übersetzungen ({total}{matching}) — Seite {page} von {pages}",
        "ru": "Ваши переводы ({total}{matching}) — страница {page} из {pages}",
        "pt": "Suas traduções ({total}{matching}) — página {page} de {pages}",
        "it": "Le tue traduzioni ({total}{matching}) — pagina {page} di {pages}",
        "vi": "Bản dịch của bạn ({total}{matching}) — trang {page}/{pages}",
    },
    "history_matching": {
        "en": ", matching “{query}”",
        "ko": ", “{query}” 검색",
        "ja": "、「{query}」に一致",
        "zh-cn": ",匹配“{query}”",
        "zh-tw": ",符合「{query}」",
        "es": ", que coinciden con «{query}»",
        "fr": ", correspondant à « {query} »",
        "de": ", passend zu „{query}“",
        "ru": ", совпадающих с «{query}»",
        "pt": ", que correspondem a “{query}”",
        "it": ", corrispondenti a «{query}»",
        "vi": ", khớp với “{query}”",
    },
    "history_more": {
        "en": "-# More: `/translations history page:{next}`",
        "ko": "-# 더 보기: `/translations history page:{next}`",
        "ja": "-# 続き: `/translations history page:{next}`",
        "zh-cn": "-# 更多:`/translations history page:{next}`",
        "zh-tw": "-# 更多:`/translations history page:{next}`",
        "es": "-# Más: `/translations history page:{next}`",
        "fr": "-# Suite : `/translations history page:{next}`",
        "de": "-# Mehr: `/translations history page:{next}`",
        "ru": "-# Дальше: `/translations history page:{next}`",
        "pt": "-# Mais: `/translations history page:{next}`",
        "it": "-# Altro: `/translations history page:{next}`",
        "vi": "-# Xem thêm: `/translations history page:{next}`",
    },
    "history_deleted": {
        "en": "Deleted {count} stored translation(s).",
        "ko": "저장된 번역 {count}개를 삭제했습니다.",
        "ja": "保存された翻訳を{count}件削除しました。",
        "zh-cn": "已删除 {count} 条保存的翻译。",
        "zh-tw": "已刪除 {count} 筆儲存的翻譯。",
        "es": "Se eliminaron {count} traducciones guardadas.",
        "fr": "{count} traduction(s) enregistrée(s) supprimée(s).",
        "de": "{count} gespeicherte Übersetzung(en) gelöscht.",
        "ru": "Удалено сохранённых переводов: {count}.",
        "pt": "{count} tradução(ões) guardada(s) apagada(s).",
        "it": "Eliminate {count} traduzioni salvate.",
        "vi": "Đã xóa {count} bản dịch đã lưu.",
    },
    "opt_in_on": {
        "en": "From now on, your messages in this channel get a translation into "
              "{language} beneath them (when they are in another language). "
              "`/translations me state:off` stops it.",
        "ko": "이제부터 이 채널에서 보내는 메시지(다른 언어일 때) 아래에 {language} 번역이 "
              "달립니다. `/translations me state:off`로 끌 수 있습니다.",
        "ja": "これからは、このチャンネルでのあなたのメッセージ(別の言語のとき)の下に"
              "{language}の翻訳が付きます。`/translations me state:off` で止められます。",
        "zh-cn": "从现在起,你在本频道的消息(使用其他语言时)下方会附上{language}译文。"
                 "`/translations me state:off` 可关闭。",
        "zh-tw": "從現在起,你在本頻道的訊息(使用其他語言時)下方會附上{language}譯文。"
                 "`/translations me state:off` 可關閉。",
        "es": "A partir de ahora, tus mensajes en este canal llevarán debajo una traducción "
              "al {language} (cuando estén en otro idioma). `/translations me state:off` "
              "lo detiene.",
        "fr": "Désormais, tes messages dans ce salon reçoivent une traduction en {language} "
              "juste en dessous (quand ils sont dans une autre langue). "
              "`/translations me state:off` l'arrête.",
        "de": "Ab jetzt bekommen deine Nachrichten in diesem Kanal darunter eine Übersetzung "
              "ins {language} (wenn sie in einer anderen Sprache sind). "
              "`/translations me state:off` beendet das.",
        "ru": "Теперь под вашими сообщениями в этом канале (если они на другом языке) "
              "будет перевод на {language}. `/translations me state:off` отключает это.",
        "pt": "A partir de agora, suas mensagens neste canal recebem abaixo uma tradução "
              "para {language} (quando estiverem em outro idioma). "
              "`/translations me state:off` desativa.",
        "it": "D'ora in poi i tuoi messaggi in questo canale avranno sotto una traduzione "
              "in {language} (quando sono in un'altra lingua). `/translations me state:off` "
              "la disattiva.",
        "vi": "Từ giờ, tin nhắn của bạn trong kênh này (khi viết bằng ngôn ngữ khác) sẽ có "
              "bản dịch sang {language} ngay bên dưới. `/translations me state:off` để tắt.",
    },
    "opt_in_off": {
        "en": "Your messages in this channel are no longer translated.",
        "ko": "이 채널에서 보내는 메시지는 더 이상 번역되지 않습니다.",
        "ja": "このチャンネルでのあなたのメッセージは翻訳されなくなりました。",
        "zh-cn": "你在本频道的消息将不再被翻译。",
        "zh-tw": "你在本頻道的訊息將不再被翻譯。",
        "es": "Tus mensajes en este canal ya no se traducen.",
        "fr": "Tes messages dans ce salon ne sont plus traduits.",
        "de": "Deine Nachrichten in diesem Kanal werden nicht mehr übersetzt.",
        "ru": "Ваши сообщения в этом канале больше не переводятся.",
        "pt": "Suas mensagens neste canal não são mais traduzidas.",
        "it": "I tuoi messaggi in questo canale non vengono più tradotti.",
        "vi": "Tin nhắn của bạn trong kênh này không còn được dịch nữa.",
    },
    "glossary_only_guild": {
        "en": "The glossary belongs to a server: use it there.",
        "ko": "용어집은 서버에 속합니다. 서버에서 사용해 주세요.",
        "ja": "用語集はサーバーごとのものです。サーバーで使ってください。",
        "zh-cn": "术语表属于服务器,请在服务器中使用。",
        "zh-tw": "詞彙表屬於伺服器,請在伺服器中使用。",
        "es": "El glosario pertenece a un servidor: úsalo allí.",
        "fr": "Le glossaire appartient à un serveur : utilise-le là-bas.",
        "de": "Das Glossar gehört zu einem Server: Benutze es dort.",
        "ru": "Глоссарий принадлежит серверу: используйте его там.",
        "pt": "O glossário pertence a um servidor: use-o lá.",
        "it": "Il glossario appartiene a un server: usalo lì.",
        "vi": "Bảng thuật ngữ thuộc về một máy chủ: hãy dùng nó ở đó.",
    },
    "glossary_added_keep": {
        "en": "Added: **{term}** is never translated here.",
        "ko": "추가됨: 이 서버에서 **{term}**은(는) 번역하지 않습니다.",
        "ja": "追加しました:このサーバーでは **{term}** を翻訳しません。",
        "zh-cn": "已添加:在这里 **{term}** 永不翻译。",
        "zh-tw": "已新增:在這裡 **{term}** 永不翻譯。",
        "es": "Añadido: **{term}** nunca se traduce aquí.",
        "fr": "Ajouté : **{term}** n'est jamais traduit ici.",
        "de": "Hinzugefügt: **{term}** wird hier nie übersetzt.",
        "ru": "Добавлено: **{term}** здесь никогда не переводится.",
        "pt": "Adicionado: **{term}** nunca é traduzido aqui.",
        "it": "Aggiunto: **{term}** qui non viene mai tradotto.",
        "vi": "Đã thêm: **{term}** không bao giờ được dịch ở đây.",
    },
    "glossary_added": {
        "en": "Added: **{term}** becomes **{rendering}** in {language}.",
        "ko": "추가됨: {language}에서 **{term}**은(는) **{rendering}**(으)로 번역됩니다.",
        "ja": "追加しました:{language}では **{term}** を **{rendering}** と訳します。",
        "zh-cn": "已添加:在{language}中 **{term}** 译为 **{rendering}**。",
        "zh-tw": "已新增:在{language}中 **{term}** 譯為 **{rendering}**。",
        "es": "Añadido: **{term}** se traduce como **{rendering}** en {language}.",
        "fr": "Ajouté : **{term}** devient **{rendering}** en {language}.",
        "de": "Hinzugefügt: **{term}** wird im {language} zu **{rendering}**.",
        "ru": "Добавлено: **{term}** переводится как **{rendering}** ({language}).",
        "pt": "Adicionado: **{term}** vira **{rendering}** em {language}.",
        "it": "Aggiunto: **{term}** diventa **{rendering}** in {language}.",
        "vi": "Đã thêm: **{term}** được dịch thành **{rendering}** trong {language}.",
    },
    "glossary_removed": {
        "en": "Removed {count} entr(y/ies) for **{term}**.",
        "ko": "**{term}** 항목 {count}개를 삭제했습니다.",
        "ja": "**{term}** の項目を{count}件削除しました。",
        "zh-cn": "已删除 **{term}** 的 {count} 个条目。",
        "zh-tw": "已刪除 **{term}** 的 {count} 個條目。",
        "es": "Se eliminaron {count} entrada(s) de **{term}**.",
        "fr": "{count} entrée(s) supprimée(s) pour **{term}**.",
        "de": "{count} Eintrag/Einträge für **{term}** entfernt.",
        "ru": "Удалено записей для **{term}**: {count}.",
        "pt": "{count} entrada(s) removida(s) para **{term}**.",
        "it": "Rimosse {count} voci per **{term}**.",
        "vi": "Đã xóa {count} mục của **{term}**.",
    },
    "glossary_empty": {
        "en": "This server's glossary is empty. Admins add terms with `/glossary add`.",
        "ko": "이 서버의 용어집이 비어 있습니다. 관리자는 `/glossary add`로 용어를 "
              "추가할 수 있습니다.",
        "ja": "このサーバーの用語集は空です。管理者は `/glossary add` で用語を追加できます。",
        "zh-cn": "本服务器的术语表是空的。管理员可以用 `/glossary add` 添加术语。",
        "zh-tw": "本伺服器的詞彙表是空的。管理員可以用 `/glossary add` 新增詞彙。",
        "es": "El glosario de este servidor está vacío. Los administradores añaden términos "
              "con `/glossary add`.",
        "fr": "Le glossaire de ce serveur est vide. Les admins ajoutent des termes avec "
              "`/glossary add`.",
        "de": "Das Glossar dieses Servers ist leer. Admins fügen Begriffe mit "
              "`/glossary add` hinzu.",
        "ru": "Глоссарий этого сервера пуст. Администраторы добавляют термины командой "
              "`/glossary add`.",
        "pt": "O glossário deste servidor está vazio. Admins adicionam termos com "
              "`/glossary add`.",
        "it": "Il glossario di questo server è vuoto. Gli admin aggiungono termini con "
              "`/glossary add`.",
        "vi": "Bảng thuật ngữ của máy chủ này đang trống. Quản trị viên thêm thuật ngữ bằng "
              "`/glossary add`.",
    },
    "glossary_header": {
        "en": "Glossary of this server ({count}):",
        "ko": "이 서버의 용어집 ({count}):",
        "ja": "このサーバーの用語集({count}):",
        "zh-cn": "本服务器的术语表({count}):",
        "zh-tw": "本伺服器的詞彙表({count}):",
        "es": "Glosario de este servidor ({count}):",
        "fr": "Glossaire de ce serveur ({count}) :",
        "de": "Glossar dieses Servers ({count}):",
        "ru": "Глоссарий этого сервера ({count}):",
        "pt": "Glossário deste servidor ({count}):",
        "it": "Glossario di questo server ({count}):",
        "vi": "Bảng thuật ngữ của máy chủ này ({count}):",
    },
    "glossary_keep": {
        "en": "never translated",
        "ko": "번역하지 않음",
        "ja": "翻訳しない",
        "zh-cn": "永不翻译",
        "zh-tw": "永不翻譯",
        "es": "nunca se traduce",
        "fr": "jamais traduit",
        "de": "nie übersetzt",
        "ru": "не переводится",
        "pt": "nunca traduzido",
        "it": "mai tradotto",
        "vi": "không bao giờ dịch",
    },
    "every_language": {
        "en": "every language",
        "ko": "모든 언어",
        "ja": "すべての言語",
        "zh-cn": "所有语言",
        "zh-tw": "所有語言",
        "es": "todos los idiomas",
        "fr": "toutes les langues",
        "de": "alle Sprachen",
        "ru": "все языки",
        "pt": "todos os idiomas",
        "it": "tutte le lingue",
        "vi": "mọi ngôn ngữ",
    },
    "unavailable": {
        "en": "Translation is unavailable right now. Everything else still works.",
        "ko": "지금은 번역을 사용할 수 없습니다. 다른 기능은 모두 정상입니다.",
        "ja": "現在、翻訳は利用できません。ほかの機能はすべて使えます。",
        "zh-cn": "翻译功能暂时不可用,其他功能仍正常。",
        "zh-tw": "翻譯功能暫時無法使用,其他功能仍正常。",
        "es": "La traducción no está disponible ahora mismo. Todo lo demás sigue funcionando.",
        "fr": "La traduction est indisponible pour le moment. Tout le reste fonctionne.",
        "de": "Übersetzen ist gerade nicht verfügbar. Alles andere funktioniert weiter.",
        "ru": "Перевод сейчас недоступен. Всё остальное работает.",
        "pt": "A tradução está indisponível agora. Todo o resto continua funcionando.",
        "it": "La traduzione non è disponibile al momento. Tutto il resto funziona.",
        "vi": "Hiện không dịch được. Mọi tính năng khác vẫn hoạt động.",
    },
    # -- /autotranslate -------------------------------------------------------------
    "links_not_set_up": {
        "en": "Translation is not available: the translation service or the database is "
              "missing.",
        "ko": "번역을 사용할 수 없습니다: 번역 서비스나 데이터베이스가 없습니다.",
        "ja": "翻訳は利用できません:翻訳サービスまたはデータベースがありません。",
        "zh-cn": "翻译不可用:缺少翻译服务或数据库。",
        "zh-tw": "翻譯無法使用:缺少翻譯服務或資料庫。",
        "es": "La traducción no está disponible: falta el servicio de traducción o la base "
              "de datos.",
        "fr": "La traduction n'est pas disponible : le service de traduction ou la base de "
              "données manque.",
        "de": "Übersetzen ist nicht verfügbar: Der Übersetzungsdienst oder die Datenbank "
              "fehlt.",
        "ru": "Перевод недоступен: нет службы перевода или базы данных.",
        "pt": "A tradução não está disponível: falta o serviço de tradução ou o banco de "
              "dados.",
        "it": "La traduzione non è disponibile: manca il servizio di traduzione o il "
              "database.",
        "vi": "Không dùng được tính năng dịch: thiếu dịch vụ dịch hoặc cơ sở dữ liệu.",
    },
    "link_pick_other": {
        "en": "Pick another channel to link this one to.",
        "ko": "이 채널과 연결할 다른 채널을 골라 주세요.",
        "ja": "このチャンネルとリンクする別のチャンネルを選んでください。",
        "zh-cn": "请选择另一个频道与本频道关联。",
        "zh-tw": "請選擇另一個頻道與本頻道連結。",
        "es": "Elige otro canal para enlazarlo con este.",
        "fr": "Choisis un autre salon à lier à celui-ci.",
        "de": "Wähle einen anderen Kanal, der mit diesem verknüpft werden soll.",
        "ru": "Выберите другой канал, чтобы связать его с этим.",
        "pt": "Escolha outro canal para vincular a este.",
        "it": "Scegli un altro canale da collegare a questo.",
        "vi": "Hãy chọn một kênh khác để liên kết với kênh này.",
    },
    "auto_needs_two": {
        "en": "Name at least two languages, e.g. `en ko`.",
        "ko": "언어를 두 개 이상 적어 주세요. 예: `en ko`.",
        "ja": "言語を二つ以上指定してください。例: `en ko`。",
        "zh-cn": "请至少写两种语言,例如 `en ko`。",
        "zh-tw": "請至少寫兩種語言,例如 `en ko`。",
        "es": "Indica al menos dos idiomas, p. ej. `en ko`.",
        "fr": "Indique au moins deux langues, par ex. `en ko`.",
        "de": "Nenne mindestens zwei Sprachen, z. B. `en ko`.",
        "ru": "Укажите хотя бы два языка, например `en ko`.",
        "pt": "Informe pelo menos dois idiomas, por ex. `en ko`.",
        "it": "Indica almeno due lingue, ad es. `en ko`.",
        "vi": "Hãy nêu ít nhất hai ngôn ngữ, ví dụ `en ko`.",
    },
    "links_none": {
        "en": "This channel is not linked or auto-translated.",
        "ko": "이 채널은 연결되어 있지 않고 자동 번역도 되지 않습니다.",
        "ja": "このチャンネルはリンクも自動翻訳もされていません。",
        "zh-cn": "本频道既没有关联,也没有自动翻译。",
        "zh-tw": "本頻道既沒有連結,也沒有自動翻譯。",
        "es": "Este canal no está enlazado ni se traduce automáticamente.",
        "fr": "Ce salon n'est ni lié ni traduit automatiquement.",
        "de": "Dieser Kanal ist weder verknüpft noch wird er automatisch übersetzt.",
        "ru": "Этот канал не связан с другими и не переводится автоматически.",
        "pt": "Este canal não está vinculado nem é traduzido automaticamente.",
        "it": "Questo canale non è collegato né tradotto automaticamente.",
        "vi": "Kênh này chưa được liên kết hay tự động dịch.",
    },
    "links_removed": {
        "en": "This channel is no longer translated.",
        "ko": "이 채널은 더 이상 번역되지 않습니다.",
        "ja": "このチャンネルは翻訳されなくなりました。",
        "zh-cn": "本频道不再翻译。",
        "zh-tw": "本頻道不再翻譯。",
        "es": "Este canal ya no se traduce.",
        "fr": "Ce salon n'est plus traduit.",
        "de": "Dieser Kanal wird nicht mehr übersetzt.",
        "ru": "Этот канал больше не переводится.",
        "pt": "Este canal não é mais traduzido.",
        "it": "Questo canale non viene più tradotto.",
        "vi": "Kênh này không còn được dịch nữa.",
    },
    "links_header": {
        "en": "Linked channels:",
        "ko": "연결된 채널:",
        "ja": "リンクされたチャンネル:",
        "zh-cn": "已关联的频道:",
        "zh-tw": "已連結的頻道:",
        "es": "Canales enlazados:",
        "fr": "Salons liés :",
        "de": "Verknüpfte Kanäle:",
        "ru": "Связанные каналы:",
        "pt": "Canais vinculados:",
        "it": "Canali collegati:",
        "vi": "Các kênh đã liên kết:",
    },
    "links_auto": {
        "en": "{channel} is auto-translated into {languages}.",
        "ko": "{channel} 채널은 {languages}(으)로 자동 번역됩니다.",
        "ja": "{channel} は {languages} に自動翻訳されます。",
        "zh-cn": "{channel} 会自动翻译成 {languages}。",
        "zh-tw": "{channel} 會自動翻譯成 {languages}。",
        "es": "{channel} se traduce automáticamente a {languages}.",
        "fr": "{channel} est traduit automatiquement en {languages}.",
        "de": "{channel} wird automatisch übersetzt in: {languages}.",
        "ru": "{channel} автоматически переводится на: {languages}.",
        "pt": "{channel} é traduzido automaticamente para {languages}.",
        "it": "{channel} viene tradotto automaticamente in {languages}.",
        "vi": "{channel} được tự động dịch sang {languages}.",
    },
    "links_no_webhooks": {
        "en": "I may not manage webhooks in {channels}: translations there are posted by me, "
              "naming their author. Give me the **Manage Webhooks** permission to post them "
              "with each author's name and avatar.",
        "ko": "{channels}에서 웹훅을 관리할 권한이 없어 번역은 제가 작성자 이름을 붙여 "
              "올립니다. 작성자 이름과 아바타로 올리려면 **Manage Webhooks**(웹후크 관리) "
              "권한을 주세요.",
        "ja": "{channels} ではWebhookを管理できないため、翻訳は私が投稿者名を添えて投稿します。"
              "投稿者の名前とアバターで投稿するには **Manage Webhooks**(ウェブフックの管理)"
              "権限をください。",
        "zh-cn": "我无权在 {channels} 管理 Webhook:那里的译文由我发布,并注明作者。"
                 "授予我 **Manage Webhooks**(管理 Webhook)权限,即可以作者的名字和头像发布。",
        "zh-tw": "我無權在 {channels} 管理 Webhook:那裡的譯文由我發布,並註明作者。"
                 "授予我 **Manage Webhooks**(管理 Webhook)權限,即可以作者的名稱和頭像發布。",
        "es": "No puedo gestionar webhooks en {channels}: allí publico yo las traducciones, "
              "nombrando a su autor. Dame el permiso **Manage Webhooks** (Gestionar webhooks) "
              "para publicarlas con el nombre y el avatar de cada autor.",
        "fr": "Je ne peux pas gérer les webhooks dans {channels} : j'y publie les traductions "
              "moi-même, en nommant leur auteur. Donne-moi la permission **Manage Webhooks** "
              "(Gérer les webhooks) pour les publier avec le nom et l'avatar de chacun.",
        "de": "Ich darf in {channels} keine Webhooks verwalten: Übersetzungen poste ich dort "
              "selbst und nenne den Autor. Gib mir die Berechtigung **Manage Webhooks** "
              "(Webhooks verwalten), um sie mit Name und Avatar jedes Autors zu posten.",
        "ru": "Я не могу управлять вебхуками в {channels}: переводы там публикую я, указывая "
              "автора. Дайте мне право **Manage Webhooks** (Управлять вебхуками), чтобы "
              "публиковать их с именем и аватаром каждого автора.",
        "pt": "Não posso gerenciar webhooks em {channels}: lá eu mesma publico as traduções, "
              "citando o autor. Dê-me a permissão **Manage Webhooks** (Gerenciar webhooks) "
              "para publicá-las com o nome e o avatar de cada autor.",
        "it": "Non posso gestire i webhook in {channels}: lì pubblico io le traduzioni, "
              "indicando l'autore. Dammi il permesso **Manage Webhooks** (Gestisci webhook) "
              "per pubblicarle con nome e avatar di ciascun autore.",
        "vi": "Mình không được quản lý webhook trong {channels}: bản dịch ở đó do mình đăng, "
              "có ghi tên tác giả. Hãy cấp quyền **Manage Webhooks** (Quản lý webhook) để "
              "đăng bằng tên và ảnh đại diện của từng tác giả.",
    },
}


def message_keys() -> tuple[str, ...]:
    """Every key of the translation messages (for checks)."""
    return tuple(_TEXTS)


def message_table(key: str) -> dict[str, str]:
    """The templates of ``key`` by language (a copy; for checks)."""
    return dict(_TEXTS[key])


def translate_message(key: str, language: str = "en", /, **values: object) -> str:
    """The text ``key`` in ``language`` (see the module for the fallbacks)."""
    return localize(_TEXTS[key], language, **values)


def error_message(code: str, language: str, **values: object) -> str:
    """Libra's shared message for an error ``code`` (rate limits, LLM failures...)."""
    return user_message(code, language, **values)
