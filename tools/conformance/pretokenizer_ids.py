#!/usr/bin/env python3
"""Token ids from llama.cpp (llama-cpp-python 0.3.36, vocab_only) for every
pre-tokenizer name moed implements beyond the original four families, on
the tokenizer torture list.

llama.cpp ships vocab-only GGUFs for only some pre-tokenizers, so this makes
them: the byte-level BPE vocabulary and merges of the default model
(SmolLM2-135M-Instruct) with `tokenizer.ggml.pre` set to each name, written
to models/jinja12/vocab-<name>.gguf. Same vocabulary, different splitting:
the ids differ exactly where the pre-tokenizers do.

  .venv/bin/python tools/conformance/pretokenizer_ids.py > Tests/TokenizerTests/PreTokenizerIDs.json
"""
import json
import os
import sys

import gguf
import llama_cpp as ll

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "conformance"))
from moeconf.corpus import TORTURE  # noqa: E402

SOURCE = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT_DIR = os.path.join(ROOT, "models", "jinja12")

NAMES = sys.argv[1:] or [
    "gpt-4o", "llama4", "tekken", "deepseek-llm", "deepseek-coder", "deepseek-v3", "hunyuan-dense",
    "chatglm-bpe", "glm4", "grok-2", "hunyuan", "seed-coder", "bailingmoe", "bloom", "poro-chat",
    "gpt3-finnish", "viking", "superbpe", "minimax-m2", "gpt-oss",
]

EXTRA = [
    "HELLOworld helloWorld ÉCOLE école ÀBC xÉy İstanbul ǅemal Ωmega",
    "I'M YOU'RE they'LL it's HE'S",
    "path/to/file.txt\n\n\nnext // comment\r\nline",
    "1234567 12 1 ١٢٣٤ ½ ²³",
    "中文字符测试，日本語のテキスト、한국어 텍스트。",
    "µ ÀÖØöøƺ ΑΩ αω Привет Ꭰ Ⅷ",
    "x!y ?z .a ,b …c 。d",
]


def write_vocab(name: str) -> str:
    path = os.path.join(OUT_DIR, f"vocab-{name}.gguf")
    if os.path.exists(path):
        return path
    reader = gguf.GGUFReader(SOURCE)
    writer = gguf.GGUFWriter(path, arch="llama")
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "tokenizer.ggml.pre":
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, value, vtype, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, value, vtype)
    writer.add_string("tokenizer.ggml.pre", name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tokenize(vocab, text: str) -> list[int]:
    data = text.encode("utf-8")
    capacity = len(data) * 2 + 16
    buf = (ll.llama_token * capacity)()
    n = ll.llama_tokenize(vocab, data, len(data), buf, capacity, False, False)
    if n < 0:
        raise RuntimeError("llama_tokenize failed")
    return list(buf[:n])


def main() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    ll.llama_backend_init()
    texts = list(TORTURE) + EXTRA
    result = {"generator": "tools/conformance/pretokenizer_ids.py", "source_vocabulary": os.path.basename(SOURCE),
              "texts": texts, "ids": {}}
    for name in NAMES:
        params = ll.llama_model_default_params()
        params.vocab_only = True
        model = ll.llama_model_load_from_file(write_vocab(name).encode(), params)
        if not model:
            print(f"llama.cpp refused pre-tokenizer {name}", file=sys.stderr)
            continue
        vocab = ll.llama_model_get_vocab(model)
        result["ids"][name] = [tokenize(vocab, t) for t in texts]
        ll.llama_model_free(model)
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
