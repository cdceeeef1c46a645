"""Short, specific user-facing messages per error code, in the reply language."""

from __future__ import annotations

from collections.abc import Mapping

_MESSAGES: dict[str, dict[str, str]] = {
    "input_empty": {
        "en": "Say something and I'll answer — for example: “What's a good name for a cat?”",
        "ko": "메시지를 입력해 주세요. 예: “고양이 이름 추천해 줘”",
        "ja": "メッセージを入力してください。例:「猫の名前を考えて」",
        "zh-cn": "请输入内容,例如:“给猫起个名字”。",
        "es": "Escribe algo y te respondo, por ejemplo: “¿Un buen nombre para un gato?”",
        "fr": "Écris quelque chose et je réponds, par exemple : « Un nom pour un chat ? »",
        "de": "Schreib etwas, dann antworte ich – zum Beispiel: „Ein Name für eine Katze?“",
    },
    "input_too_long": {
        "en": "That message is {length} characters; the limit is {limit}. "
              "Please shorten it or split it into parts.",
        "ko": "메시지가 {length}자입니다. 최대 {limit}자까지 가능합니다. 줄이거나 나눠서 보내 주세요.",
        "ja": "メッセージが{length}文字あります。上限は{limit}文字です。短くするか分けて送ってください。",
        "zh-cn": "消息有 {length} 个字符,上限为 {limit}。请缩短或分开发送。",
        "es": "Ese mensaje tiene {length} caracteres; el límite es {limit}. Acórtalo o divídelo.",
        "fr": "Ce message fait {length} caractères ; la limite est {limit}. Raccourcis-le.",
        "de": "Die Nachricht hat {length} Zeichen; erlaubt sind {limit}. Bitte kürzen oder teilen.",
    },
    "llm_unreachable": {
        "en": "I can't reach my language model right now. Please try again in a minute.",
        "ko": "지금 언어 모델에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
        "ja": "現在、言語モデルに接続できません。少し後でもう一度お試しください。",
        "zh-cn": "暂时无法连接语言模型,请稍后再试。",
        "es": "Ahora mismo no puedo contactar con mi modelo de lenguaje. Inténtalo en un minuto.",
        "fr": "Je n'arrive pas à joindre mon modèle de langage. Réessaie dans une minute.",
        "de": "Ich erreiche mein Sprachmodell gerade nicht. Bitte versuch es gleich noch einmal.",
    },
    "llm_model_missing": {
        "en": "The model for this language isn't installed on the server yet "
              "(an admin can fix it with `ollama pull {model}`).",
        "ko": "이 언어용 모델이 서버에 없습니다 (관리자: `ollama pull {model}`).",
        "ja": "この言語のモデルがサーバーにありません(管理者: `ollama pull {model}`)。",
        "zh-cn": "服务器上还没有该语言的模型(管理员可运行 `ollama pull {model}`)。",
    },
    "llm_timeout": {
        "en": "The model took too long to answer. Please try again.",
        "ko": "모델 응답이 너무 오래 걸렸습니다. 다시 시도해 주세요.",
        "ja": "モデルの応答に時間がかかりすぎました。もう一度お試しください。",
        "zh-cn": "模型响应超时,请重试。",
        "es": "El modelo tardó demasiado en responder. Inténtalo de nuevo.",
        "fr": "Le modèle a mis trop de temps à répondre. Réessaie.",
        "de": "Das Modell hat zu lange gebraucht. Bitte versuch es noch einmal.",
    },
    "llm_stream_cut": {
        "en": "(The answer was cut off: the model stopped responding.)",
        "ko": "(모델 응답이 중간에 끊겼습니다.)",
        "ja": "(モデルの応答が途中で途切れました。)",
        "zh-cn": "(回答中断:模型停止了响应。)",
    },
    "llm_request_rejected": {
        "en": "The model couldn't take this request; the conversation may be too long for it. "
              "Try a shorter message, or `/reset` to start fresh.",
        "ko": "모델이 이 요청을 처리할 수 없습니다. 대화가 너무 길 수 있습니다. "
              "더 짧게 보내거나 `/reset`으로 새로 시작해 주세요.",
        "ja": "モデルがこのリクエストを処理できませんでした。会話が長すぎる可能性があります。"
              "短くするか、`/reset` でやり直してください。",
        "zh-cn": "模型无法处理此请求,对话可能过长。请缩短消息,或用 `/reset` 重新开始。",
    },
    "llm_overloaded": {
        "en": "I'm answering a lot of people right now. Please try again shortly.",
        "ko": "지금 요청이 많습니다. 잠시 후 다시 시도해 주세요.",
        "ja": "現在混み合っています。少し後でもう一度お試しください。",
        "zh-cn": "当前请求较多,请稍后再试。",
    },
    "llm_server_error": {
        "en": "My language model ran into an error on its side. Please try again in a moment.",
        "ko": "언어 모델 서버에서 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.",
        "ja": "言語モデルのサーバーでエラーが発生しました。少し後でもう一度お試しください。",
        "zh-cn": "语言模型服务器出错了,请稍后再试。",
        "es": "Mi modelo de lenguaje tuvo un error. Inténtalo de nuevo en un momento.",
        "fr": "Mon modèle de langage a rencontré une erreur. Réessaie dans un instant.",
        "de": "Mein Sprachmodell hatte einen Fehler. Bitte versuch es gleich noch einmal.",
    },
    "db_unavailable": {
        "en": "My database is unreachable right now, so I can't use or change what I "
              "remember. Please try again later.",
        "ko": "지금 데이터베이스에 연결할 수 없어 기억을 읽거나 바꿀 수 없습니다. 나중에 다시 시도해 주세요.",
        "ja": "現在データベースに接続できないため、記憶を読み書きできません。後でもう一度お試しください。",
        "zh-cn": "暂时无法连接数据库,无法读取或修改记忆。请稍后再试。",
        "es": "Ahora no puedo acceder a mi base de datos ni a lo que recuerdo. Inténtalo luego.",
        "fr": "Ma base de données est injoignable : impossible d'utiliser mes souvenirs. "
              "Réessaie plus tard.",
        "de": "Meine Datenbank ist gerade nicht erreichbar, also auch meine Erinnerungen "
              "nicht. Bitte später noch einmal versuchen.",
    },
    "storage_error": {
        "en": "Saving or loading that failed on my side (database error). "
              "Please try again in a moment.",
        "ko": "데이터베이스 오류로 저장하거나 불러오지 못했습니다. 잠시 후 다시 시도해 주세요.",
        "ja": "データベースのエラーで保存または読み込みに失敗しました。少し後でもう一度お試しください。",
        "zh-cn": "数据库出错,保存或读取失败。请稍后再试。",
        "es": "No pude guardar ni cargar eso (error de base de datos). Inténtalo en un momento.",
        "fr": "L'enregistrement ou le chargement a échoué (erreur de base de données). "
              "Réessaie dans un instant.",
        "de": "Speichern oder Laden ist fehlgeschlagen (Datenbankfehler). "
              "Bitte gleich noch einmal versuchen.",
    },
    "queue_position": {
        "en": "Waiting for the model — you're #{position} in line.",
        "ko": "모델을 기다리는 중입니다 — 대기 순서 {position}번째입니다.",
        "ja": "モデルの順番待ちです — あなたは{position}番目です。",
        "zh-cn": "正在等待模型 — 你排在第 {position} 位。",
        "es": "Esperando al modelo: eres el n.º {position} en la cola.",
        "fr": "En attente du modèle — tu es n° {position} dans la file.",
        "de": "Warte auf das Modell – du bist Nr. {position} in der Schlange.",
    },
    "rate_limited": {
        "en": "You're sending messages faster than I can answer. Try again in {seconds} s.",
        "ko": "메시지를 너무 빨리 보내고 있습니다. {seconds}초 후에 다시 시도해 주세요.",
        "ja": "送信が速すぎます。{seconds}秒後にもう一度お試しください。",
        "zh-cn": "发送太快了,请在 {seconds} 秒后重试。",
    },
    "guild_busy": {
        "en": "I'm already answering {limit} messages in this server. "
              "Please try again in a moment.",
        "ko": "이 서버에서 이미 {limit}개의 메시지에 답하고 있습니다. 잠시 후 다시 시도해 주세요.",
        "ja": "このサーバーではすでに{limit}件の返信を作成中です。少し後でもう一度お試しください。",
        "zh-cn": "本服务器已有 {limit} 条回复正在生成,请稍后再试。",
    },
    "admin_only": {
        "en": "Only server admins (Manage Server permission or an admin role) can use this.",
        "ko": "서버 관리자(서버 관리 권한 또는 관리자 역할)만 사용할 수 있습니다.",
        "ja": "サーバー管理者(サーバー管理権限または管理者ロール)のみ使用できます。",
        "zh-cn": "只有服务器管理员(管理服务器权限或管理员角色)可以使用此命令。",
    },
    "memory_id_invalid": {
        "en": "There is no memory #{memory_id}. `/memory show` lists the numbers of yours.",
        "ko": "#{memory_id}번 기억은 없습니다. `/memory show`로 기억 번호를 확인하세요.",
        "ja": "#{memory_id} の記憶はありません。`/memory show` で番号を確認してください。",
        "zh-cn": "没有编号为 #{memory_id} 的记忆。用 `/memory show` 查看你的记忆编号。",
        "es": "No hay ningún recuerdo #{memory_id}. `/memory show` muestra los números de los tuyos.",
        "fr": "Il n'y a pas de souvenir n° {memory_id}. `/memory show` liste les numéros des tiens.",
        "de": "Es gibt keine Erinnerung #{memory_id}. `/memory show` zeigt die Nummern deiner.",
    },
    "language_unknown": {
        "en": "I don't know the language “{name}”. Choose one of: {choices}.",
        "ko": "“{name}” 언어는 지원하지 않습니다. 다음 중에서 고르세요: {choices}.",
        "ja": "「{name}」という言語は使えません。次から選んでください: {choices}。",
        "zh-cn": "不支持语言“{name}”。请选择:{choices}。",
    },
    "memory_saved": {
        "en": "I'll remember that (`#{id}`, {scope}).",
        "ko": "기억해 둘게요 (`#{id}`, {scope}).",
        "ja": "覚えておきます(`#{id}`、{scope})。",
        "zh-cn": "我会记住的(`#{id}`,{scope})。",
    },
    "memory_none": {
        "en": "I don't remember anything about you yet.",
        "ko": "아직 기억하고 있는 내용이 없습니다.",
        "ja": "あなたについてまだ何も覚えていません。",
        "zh-cn": "我还没有记住关于你的任何事。",
    },
    "memory_scope_this_server": {"en": "this server", "ko": "이 서버", "ja": "このサーバー",
                                 "zh-cn": "本服务器"},
    "memory_scope_server": {"en": "server “{name}”", "ko": "서버 “{name}”",
                            "ja": "サーバー「{name}」", "zh-cn": "服务器“{name}”"},
    "memory_scope_other_server": {"en": "another server", "ko": "다른 서버",
                                  "ja": "別のサーバー", "zh-cn": "其他服务器"},
    "memory_scope_dm": {"en": "DMs", "ko": "DM", "ja": "DM", "zh-cn": "私信"},
    "memory_scope_everywhere": {"en": "everywhere", "ko": "모든 곳", "ja": "どこでも",
                                "zh-cn": "所有地方"},
    "memory_scope_console": {"en": "console", "ko": "콘솔", "ja": "コンソール",
                             "zh-cn": "控制台"},
    "memory_scope_unknown": {
        "en": "DMs only: saved before memories had a scope",
        "ko": "DM 전용: 범위 기능 이전에 저장됨",
        "ja": "DMのみ:スコープ導入前に保存",
        "zh-cn": "仅限私信:在记忆区分范围之前保存",
    },
    "privacy_export_ready": {
        "en": "Here is everything I store about you ({size}). Only you can see this message.",
        "ko": "저장된 당신의 모든 데이터입니다 ({size}). 이 메시지는 당신에게만 보입니다.",
        "ja": "あなたについて保存しているすべてのデータです({size})。このメッセージはあなたにだけ表示されます。",
        "zh-cn": "这是我保存的关于你的全部数据({size})。此消息仅你可见。",
    },
    "privacy_export_empty": {
        "en": "I store nothing about you.",
        "ko": "당신에 대해 저장된 데이터가 없습니다.",
        "ja": "あなたについて保存しているデータはありません。",
        "zh-cn": "我没有保存任何关于你的数据。",
    },
    "privacy_export_too_large": {
        "en": "Your data is too large to send here ({size}, even compressed; the limit is "
              "{limit}). Ask the operator of this bot for a copy, or erase it with "
              "`/privacy delete`.",
        "ko": "데이터가 너무 커서 보낼 수 없습니다 (압축 후 {size}, 한도 {limit}). 봇 운영자에게 "
              "사본을 요청하거나 `/privacy delete`로 삭제하세요.",
        "ja": "データが大きすぎて送れません(圧縮後 {size}、上限 {limit})。ボットの運営者にコピーを"
              "依頼するか、`/privacy delete` で削除してください。",
        "zh-cn": "数据太大,无法发送(压缩后 {size},上限 {limit})。请向机器人运营者索取副本,"
                 "或用 `/privacy delete` 删除。",
    },
    "privacy_delete_confirm": {
        "en": "This deletes everything I store about you, in every server and in DMs: your "
              "conversations with me and my replies, your memories, your language setting "
              "and usage records. It cannot be undone. Messages already posted on Discord "
              "stay (you can delete yours; moderators can remove mine). "
              "Delete it all? (This button works for {minutes} minutes.)",
        "ko": "모든 서버와 DM에서 저장된 당신의 데이터를 모두 삭제합니다: 대화와 제 답변, 기억, "
              "언어 설정, 사용 기록. 되돌릴 수 없습니다. 이미 Discord에 올라간 메시지는 남습니다 "
              "(본인 메시지는 직접 삭제할 수 있고, 제 메시지는 관리자가 지울 수 있습니다). "
              "모두 삭제할까요? (버튼은 {minutes}분 동안 유효합니다.)",
        "ja": "すべてのサーバーとDMで、あなたについて保存しているものをすべて削除します:会話と私の"
              "返信、記憶、言語設定、利用記録。元に戻せません。Discordに投稿済みのメッセージは残り"
              "ます(ご自身のものは削除でき、私のものはモデレーターが削除できます)。"
              "すべて削除しますか?(ボタンは{minutes}分間有効です。)",
        "zh-cn": "这将删除我在所有服务器和私信中保存的关于你的一切:对话和我的回复、记忆、语言设置"
                 "和使用记录。此操作无法撤销。已发布在 Discord 上的消息会保留(你可以删除自己的,"
                 "管理员可以删除我的)。全部删除吗?(按钮 {minutes} 分钟内有效。)",
    },
    "privacy_button_delete": {"en": "Delete everything", "ko": "모두 삭제",
                              "ja": "すべて削除", "zh-cn": "全部删除"},
    "privacy_button_cancel": {"en": "Cancel", "ko": "취소", "ja": "キャンセル",
                              "zh-cn": "取消"},
    "privacy_deleted": {
        "en": "Deleted: everything I stored about you is gone. If you talk to me again, "
              "I start from nothing.",
        "ko": "삭제했습니다. 저장된 당신의 데이터는 모두 사라졌습니다. 다시 대화하면 처음부터 "
              "시작합니다.",
        "ja": "削除しました。保存していたデータはすべて消えました。また話しかけてくれたら、"
              "ゼロから始めます。",
        "zh-cn": "已删除:我保存的关于你的一切都已清除。如果你再和我聊天,我会从零开始。",
    },
    "privacy_delete_nothing": {
        "en": "Deleted: I had nothing stored about you.",
        "ko": "삭제할 데이터가 없었습니다.",
        "ja": "削除しました:保存しているデータはありませんでした。",
        "zh-cn": "已删除:我本来就没有保存任何关于你的数据。",
    },
    "privacy_delete_cancelled": {
        "en": "Cancelled: nothing was deleted.",
        "ko": "취소했습니다. 아무것도 삭제되지 않았습니다.",
        "ja": "キャンセルしました。何も削除していません。",
        "zh-cn": "已取消:没有删除任何内容。",
    },
    "privacy_delete_expired": {
        "en": "This confirmation has expired and nothing was deleted. "
              "Run `/privacy delete` again if you still want to.",
        "ko": "확인 시간이 지나 아무것도 삭제되지 않았습니다. 원하면 `/privacy delete`를 다시 "
              "실행하세요.",
        "ja": "確認の期限が切れたため、何も削除していません。必要なら `/privacy delete` を"
              "もう一度実行してください。",
        "zh-cn": "确认已过期,未删除任何内容。如仍需要,请再次运行 `/privacy delete`。",
    },
    "privacy_not_yours": {
        "en": "This button belongs to the person who ran the command.",
        "ko": "이 버튼은 명령을 실행한 사람만 사용할 수 있습니다.",
        "ja": "このボタンはコマンドを実行した人だけが使えます。",
        "zh-cn": "此按钮仅限运行该命令的人使用。",
    },
    "reply_empty": {
        "en": "The model returned an empty answer. Please try rephrasing.",
        "ko": "모델이 빈 답변을 보냈습니다. 다르게 물어봐 주세요.",
        "ja": "モデルの回答が空でした。言い換えてみてください。",
        "zh-cn": "模型返回了空回答,请换个说法再试。",
    },
    # --- voice channels (/voice; {channel} is a channel mention) -------------------------
    "voice_listening": {
        "en": "🎙️ I'm in {channel} and listening: what you say here may be transcribed and "
              "answered aloud. `/voice leave` makes me leave.",
        "ko": "🎙️ {channel}에 들어와 듣고 있습니다. 여기서 하는 말은 받아 적고 음성으로 답할 수 "
              "있습니다. `/voice leave`로 내보낼 수 있습니다.",
        "ja": "🎙️ {channel} に参加して聞いています。ここでの発言は文字起こしされ、音声で答えることが"
              "あります。`/voice leave` で退出させられます。",
        "zh-cn": "🎙️ 我已进入 {channel} 并在聆听:这里说的话可能会被转写并语音回答。"
                 "用 `/voice leave` 让我离开。",
    },
    "voice_rejoined": {
        "en": "🎙️ Back in {channel} after a restart and listening again. "
              "`/voice leave` makes me leave.",
        "ko": "🎙️ 재시작 후 {channel}에 다시 들어와 듣고 있습니다. `/voice leave`로 내보낼 수 있습니다.",
        "ja": "🎙️ 再起動後、{channel} に戻って再び聞いています。`/voice leave` で退出させられます。",
        "zh-cn": "🎙️ 重启后已回到 {channel},继续聆听。用 `/voice leave` 让我离开。",
    },
    "voice_left": {
        "en": "Left {channel}.",
        "ko": "{channel}에서 나왔습니다.",
        "ja": "{channel} から退出しました。",
        "zh-cn": "已离开 {channel}。",
    },
    "voice_left_alone": {
        "en": "Left {channel}: nobody else was there for {seconds} s. "
              "`/voice join` brings me back.",
        "ko": "{channel}에 {seconds}초 동안 아무도 없어서 나왔습니다. `/voice join`으로 다시 부를 수 "
              "있습니다.",
        "ja": "{channel} に {seconds} 秒間だれもいなかったので退出しました。`/voice join` で呼び戻せます。",
        "zh-cn": "{channel} 已无人 {seconds} 秒,我已离开。用 `/voice join` 叫我回来。",
    },
    "voice_kicked": {
        "en": "I was disconnected from {channel}. `/voice join` brings me back.",
        "ko": "{channel}에서 연결이 끊겼습니다(관리자). `/voice join`으로 다시 부를 수 있습니다.",
        "ja": "{channel} から切断されました。`/voice join` で呼び戻せます。",
        "zh-cn": "我已被断开 {channel} 的连接。用 `/voice join` 叫我回来。",
    },
    "voice_lost": {
        "en": "I lost the connection to {channel} and could not get it back ({detail}). "
              "`/voice join` brings me back.",
        "ko": "{channel} 연결이 끊겨 복구하지 못했습니다 ({detail}). `/voice join`으로 다시 부를 수 "
              "있습니다.",
        "ja": "{channel} への接続が切れ、復旧できませんでした({detail})。`/voice join` で呼び戻せます。",
        "zh-cn": "与 {channel} 的连接中断且无法恢复({detail})。用 `/voice join` 叫我回来。",
    },
    "voice_not_joined": {
        "en": "I'm not in a voice channel in this server. `/voice join` brings me in.",
        "ko": "이 서버의 음성 채널에 있지 않습니다. `/voice join`으로 부를 수 있습니다.",
        "ja": "このサーバーのボイスチャンネルにいません。`/voice join` で呼べます。",
        "zh-cn": "我不在本服务器的语音频道中。用 `/voice join` 叫我进来。",
    },
    "voice_already_here": {
        "en": "I'm already in {channel}.",
        "ko": "이미 {channel}에 있습니다.",
        "ja": "すでに {channel} にいます。",
        "zh-cn": "我已经在 {channel} 了。",
    },
    "voice_channel_required": {
        "en": "You're not in a voice channel. Join one first, or name it: "
              "`/voice join channel:` followed by the voice channel.",
        "ko": "음성 채널에 있지 않습니다. 먼저 음성 채널에 들어가거나 `/voice join channel:`로 채널을 "
              "지정하세요.",
        "ja": "ボイスチャンネルにいません。先に参加するか、`/voice join channel:` でチャンネルを"
              "指定してください。",
        "zh-cn": "你不在语音频道中。请先加入一个,或用 `/voice join channel:` 指定语音频道。",
    },
    "voice_channel_invalid": {
        "en": "{channel} is not a voice channel of this server. Name a voice channel.",
        "ko": "{channel}은(는) 이 서버의 음성 채널이 아닙니다. 음성 채널을 지정하세요.",
        "ja": "{channel} はこのサーバーのボイスチャンネルではありません。ボイスチャンネルを指定してください。",
        "zh-cn": "{channel} 不是本服务器的语音频道。请指定语音频道。",
    },
    "voice_permission_missing": {
        "en": "I can't join {channel}: I'm missing the {missing} permission there. A server "
              "admin can grant it to my role in the channel's settings → Permissions.",
        "ko": "{channel}에 들어갈 수 없습니다: 그 채널에서 {missing} 권한이 없습니다. 서버 관리자가 "
              "채널 설정 → 권한에서 제 역할에 권한을 줄 수 있습니다.",
        "ja": "{channel} に参加できません。そのチャンネルで {missing} 権限がありません。サーバー管理者が"
              "チャンネル設定 → 権限で私のロールに付与できます。",
        "zh-cn": "我无法加入 {channel}:我在那里缺少 {missing} 权限。服务器管理员可以在频道设置 → "
                 "权限中给我的角色授予。",
    },
    "voice_join_failed": {
        "en": "Discord did not let me into {channel} in time. Please try again; if it keeps "
              "failing, check my Connect permission there.",
        "ko": "Discord가 제때 {channel}에 들여보내 주지 않았습니다. 다시 시도해 주세요. 계속 실패하면 "
              "그 채널의 연결 권한을 확인하세요.",
        "ja": "Discord が時間内に {channel} へ入れてくれませんでした。もう一度お試しください。続く場合は"
              "そのチャンネルの接続権限を確認してください。",
        "zh-cn": "Discord 没有及时让我进入 {channel}。请重试;若仍失败,请检查我在那里的连接权限。",
    },
    "voice_dave_required": {
        "en": "Discord refused the voice connection to {channel}: voice needs end-to-end "
              "encryption (DAVE), which is switched off in my settings. An admin can fix it: "
              "set `voice.dave_max_version = 1` and restart me.",
        "ko": "Discord가 {channel} 음성 연결을 거부했습니다: 음성에는 종단간 암호화(DAVE)가 필요한데 "
              "설정에서 꺼져 있습니다. 관리자가 `voice.dave_max_version = 1`로 설정하고 재시작하면 "
              "됩니다.",
        "ja": "Discord が {channel} への音声接続を拒否しました。音声にはエンドツーエンド暗号化(DAVE)が"
              "必要ですが、設定で無効です。管理者が `voice.dave_max_version = 1` にして再起動してください。",
        "zh-cn": "Discord 拒绝了到 {channel} 的语音连接:语音需要端到端加密(DAVE),而它在我的设置中"
                 "被关闭。管理员可设置 `voice.dave_max_version = 1` 并重启我。",
    },
    "voice_decrypt_failures": {
        "en": "I can't decrypt what people say in {channel}: the call's encryption keys are out "
              "of step. `/voice leave` then `/voice join` re-keys the call.",
        "ko": "{channel}에서 하는 말을 복호화할 수 없습니다(암호화 키 불일치). `/voice leave` 후 "
              "`/voice join`하면 키를 다시 맞춥니다.",
        "ja": "{channel} の発言を復号できません(暗号鍵が不一致)。`/voice leave` のあと `/voice join` "
              "で鍵を更新できます。",
        "zh-cn": "我无法解密 {channel} 中的语音(加密密钥不同步)。先 `/voice leave` 再 `/voice join` "
                 "可重新协商密钥。",
    },
    "voice_send_blocked": {
        "en": "Nobody can hear me in {channel}: the encrypted call is not keyed. "
              "`/voice leave` then `/voice join` usually fixes it.",
        "ko": "{channel}에서 아무도 제 목소리를 들을 수 없습니다(암호화 키 미설정). `/voice leave` 후 "
              "`/voice join`하면 보통 해결됩니다.",
        "ja": "{channel} で私の声が誰にも届いていません(暗号化の鍵が未設定)。`/voice leave` のあと "
              "`/voice join` で通常直ります。",
        "zh-cn": "{channel} 中没人能听到我(加密通话未完成密钥协商)。先 `/voice leave` 再 "
                 "`/voice join` 通常可解决。",
    },
    "voice_dave_transition_failed": {
        "en": "The end-to-end encryption of {channel} failed to update; some people may not be "
              "heard. `/voice leave` then `/voice join` re-keys the call.",
        "ko": "{channel}의 종단간 암호화 갱신에 실패했습니다. 일부 사람의 말이 들리지 않을 수 있습니다. "
              "`/voice leave` 후 `/voice join`하면 키를 다시 맞춥니다.",
        "ja": "{channel} のエンドツーエンド暗号化の更新に失敗しました。一部の人の声が届かない可能性が"
              "あります。`/voice leave` のあと `/voice join` で鍵を更新できます。",
        "zh-cn": "{channel} 的端到端加密更新失败,部分人的声音可能听不到。先 `/voice leave` 再 "
                 "`/voice join` 可重新协商密钥。",
    },
    "speech_model_missing": {
        "en": "I can't follow speech in {spoken} in {channel}: no speech model for it is "
              "installed. An admin can fix it with: `{fix}`",
        "ko": "{channel}에서 {spoken} 음성을 처리할 수 없습니다: 음성 모델이 설치되어 있지 "
              "않습니다. 관리자가 `{fix}` 로 해결할 수 있습니다.",
        "ja": "{channel} で {spoken} の音声を扱えません: 音声モデルが入っていません。"
              "管理者が `{fix}` で直せます。",
        "zh-cn": "无法在 {channel} 处理 {spoken} 语音:没有安装对应的语音模型。"
                 "管理员可运行 `{fix}` 解决。",
    },
    "speech_engine_failed": {
        "en": "My speech engine failed in {channel} ({detail}); I keep listening to everyone "
              "else. If it repeats, an admin can check the models with `libra models verify`.",
        "ko": "{channel}에서 음성 엔진이 실패했습니다({detail}). 다른 분들의 말은 계속 듣습니다. "
              "반복되면 관리자가 `libra models verify` 로 모델을 확인할 수 있습니다.",
        "ja": "{channel} で音声エンジンが失敗しました({detail})。他の人の声は聞き続けます。"
              "続く場合は管理者が `libra models verify` でモデルを確認できます。",
        "zh-cn": "{channel} 的语音引擎出错({detail}),我会继续听其他人说话。"
                 "如果反复出现,管理员可用 `libra models verify` 检查模型。",
    },
    "voice_interrupted": {
        "en": "(interrupted)",
        "ko": "(중단됨)",
        "ja": "(中断)",
        "zh-cn": "(已打断)",
    },
    "voice_problem": {
        "en": "Voice problem in {channel}: {detail}",
        "ko": "{channel} 음성 문제: {detail}",
        "ja": "{channel} の音声の問題: {detail}",
        "zh-cn": "{channel} 语音问题:{detail}",
    },
    "voice_mode_set": {
        "en": "Voice mode in this server: **{mode}** ({meaning}).",
        "ko": "이 서버의 음성 모드: **{mode}** ({meaning}).",
        "ja": "このサーバーの音声モード: **{mode}**({meaning})。",
        "zh-cn": "本服务器的语音模式:**{mode}**({meaning})。",
    },
    "voice_mode_open": {
        "en": "I answer everything said to me",
        "ko": "모든 말에 답합니다",
        "ja": "すべての発言に答えます",
        "zh-cn": "回答所有发言",
    },
    "voice_mode_wake-word": {
        "en": "I answer only what starts with my name",
        "ko": "제 이름으로 시작하는 말에만 답합니다",
        "ja": "私の名前で始まる発言にだけ答えます",
        "zh-cn": "只回答以我的名字开头的话",
    },
    "voice_mode_off": {
        "en": "I only listen and write transcripts, without speaking",
        "ko": "말하지 않고 듣고 받아 적기만 합니다",
        "ja": "話さずに聞いて文字起こしだけします",
        "zh-cn": "只聆听并转写,不说话",
    },
    "voice_voice_set": {
        "en": "Voice in this server: **{voice}**.",
        "ko": "이 서버의 목소리: **{voice}**.",
        "ja": "このサーバーの声: **{voice}**。",
        "zh-cn": "本服务器的声音:**{voice}**。",
    },
    "voice_voice_unknown": {
        "en": "There is no voice named `{voice}`. Installed voices: {choices}. "
              "(`libra models list` shows them; `libra models pull` adds one.)",
        "ko": "`{voice}`라는 목소리가 없습니다. 설치된 목소리: {choices}.",
        "ja": "`{voice}` という声はありません。インストール済みの声: {choices}。",
        "zh-cn": "没有名为 `{voice}` 的声音。已安装的声音:{choices}。",
    },
    "voice_not_saved": {
        "en": "(I couldn't save this — the database is unavailable — so it lasts until I "
              "restart.)",
        "ko": "(데이터베이스를 사용할 수 없어 저장하지 못했습니다. 재시작 전까지만 유지됩니다.)",
        "ja": "(データベースが使えないため保存できませんでした。再起動までの設定です。)",
        "zh-cn": "(数据库不可用,未能保存;重启前有效。)",
    },
    "permission_denied": {
        "en": "You don't have permission to do that here.",
        "ko": "여기서 그 작업을 할 권한이 없습니다.",
        "ja": "ここでその操作をする権限がありません。",
        "zh-cn": "你没有在此执行该操作的权限。",
    },
    "service_unavailable": {
        "en": "That feature is unavailable right now (its service is down). "
              "Everything else still works.",
        "ko": "이 기능은 지금 사용할 수 없습니다. 다른 기능은 정상입니다.",
        "ja": "この機能は現在利用できません。他の機能は使えます。",
        "zh-cn": "该功能暂时不可用,其他功能正常。",
    },
    "stopped": {
        "en": "(stopped)",
        "ko": "(중지됨)",
        "ja": "(停止しました)",
        "zh-cn": "(已停止)",
    },
    "unexpected": {
        "en": "Something went wrong on my side. It has been logged (ref {ref}).",
        "ko": "내부 오류가 발생했습니다. 기록되었습니다 (참조 {ref}).",
        "ja": "内部エラーが発生しました。記録済みです(参照 {ref})。",
        "zh-cn": "内部出错,已记录(编号 {ref})。",
    },
}


def _base(language: str) -> str:
    return language if language in ("zh-cn", "zh-tw") else language.split("-", maxsplit=1)[0]


def has_message(code: str) -> bool:
    """Whether ``code`` has its own message (others get the generic ``unexpected`` one)."""
    return code in _MESSAGES


def user_message(code: str, language: str = "en", **values: object) -> str:
    """The message for ``code`` in ``language`` (English when not translated)."""
    return localize(_MESSAGES.get(code) or _MESSAGES["unexpected"], language, **values)


def localize(table: Mapping[str, str], language: str, /, **values: object) -> str:
    """One message's template for ``language``, filled with ``values``.

    ``table`` maps language codes to templates and has ``en``. A regional code falls
    back to its base language ("pt-BR" → "pt"), ``zh-tw`` to ``zh-cn``, anything else
    to English; a template that cannot be filled falls back to English with "?" for
    what is missing. Shared by every feature's messages (e.g. translation's).
    """
    lang = _base(language)
    if lang == "zh-tw" and "zh-tw" not in table:
        lang = "zh-cn"
    template = table.get(lang) or table["en"]
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return table["en"].format_map(_Missing(values))


class _Missing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"
