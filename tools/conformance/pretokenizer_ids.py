#!/usr/bin/env python3
"""Token ids from llama.cpp (llama-cpp-python 0.3.36, vocab_only) for every
pre-tokenizer name moed implements beyond the original four families, on
the tokenizer torture list.

llama.cpp ships vocab-only GGUFs for only some pre-tokenizers, so this makes
them: the byte-level BPE vocabulary and merges of the default model
(SmolLM2-135M-Instruct) with `tokenizer.ggml.pre` set to each name, written
to models/jinja12/vocab-<name>.gguf. Same vocabulary, different splitting:
the ids differ exactly where the pre-tokenizers do. So that they do differ
(SmolLM2 alone has no multi-digit or cross-class tokens), "glue" merges are
appended at the lowest rank: for every pair of adjacent characters in the
texts whose spellings are both tokens, a merge and a token joining them. A
word split differently then tokenizes differently. The JSON carries the
glue so the Swift test builds the same vocabulary.

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


def byte_level(text: str) -> str:
    """GPT-2's byte-to-character mapping, as the vocabulary spells tokens."""
    direct = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return "".join(table[b] for b in text.encode("utf-8"))


def glue(reader, texts) -> list[str]:
    tokens = set(str(bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]), "utf-8")
                 for i in reader.fields["tokenizer.ggml.tokens"].data)
    merges = set(str(bytes(reader.fields["tokenizer.ggml.merges"].parts[i]), "utf-8")
                 for i in reader.fields["tokenizer.ggml.merges"].data)
    out = []
    for text in texts:
        for a, b in zip(text, text[1:]):
            left, right = byte_level(a), byte_level(b)
            merge = f"{left} {right}"
            if left in tokens and right in tokens and left + right not in tokens and merge not in merges:
                tokens.add(left + right)
                merges.add(merge)
                out.append(merge)
    return out


def write_vocab(name: str, extra_merges: list[str]) -> str:
    path = os.path.join(OUT_DIR, f"vocab-{name}.gguf")
    reader = gguf.GGUFReader(SOURCE)
    writer = gguf.GGUFWriter(path, arch="llama")
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "tokenizer.ggml.pre":
            continue
        value = field.contents()
        vtype = field.types[0]
        if key == "tokenizer.ggml.merges":
            value = value + extra_merges
        elif key == "tokenizer.ggml.tokens":
            value = value + [m.replace(" ", "") for m in extra_merges]
        elif key == "tokenizer.ggml.token_type":
            value = value + [1] * len(extra_merges)
        elif key == "tokenizer.ggml.scores":
            value = value + [0.0] * len(extra_merges)
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
    extra_merges = glue(gguf.GGUFReader(SOURCE), texts)
    result = {"generator": "tools/conformance/pretokenizer_ids.py", "source_vocabulary": os.path.basename(SOURCE),
              "glue_merges": extra_merges, "texts": texts, "ids": {}}
    for name in NAMES:
        params = ll.llama_model_default_params()
        params.vocab_only = True
        model = ll.llama_model_load_from_file(write_vocab(name, extra_merges).encode(), params)
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
