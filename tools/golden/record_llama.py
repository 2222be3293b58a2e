#!/usr/bin/env python3
"""Records llama.cpp's view of the default model as a golden file for the
Swift tests, which then check the engine against it without llama.cpp:
tokenization, teacher-forced top-1 predictions with llama.cpp's margins, and
perplexity on a short text.

Re-record (needs llama-cpp-python, e.g. the conformance venv):
    .venv/bin/python tools/golden/record_llama.py models/SmolLM2-135M-Instruct.Q4_1.gguf \
        Tests/InferenceTests/Golden/smollm2-q4_1.json
"""
import ctypes, hashlib, json, sys
import numpy as np
import llama_cpp as L

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "The three primary colors are",
    "Water boils at a temperature of",
    "Here is a list of fruits: apple, banana,",
    "In 1969, the first humans",
    "The best way to learn a new language is",
]
TOKENIZE = [
    "", " ", "Hello world", "  multiple   spaces\tand\ttabs\n\nnewlines",
    "café naïve résumé", "日本語のテキスト", "emoji 👩‍👩‍👧‍👦 👍🏽 done", "1234567890 3.14159",
    "I'm sure they'll say it's fine, won't they?", "<|im_start|>user\nhi<|im_end|>",
]
CONTINUATION = 32


def tokenize(vocab, text, special):
    data = text.encode()
    buf = (L.llama_token * (len(data) + 16))()
    n = L.llama_tokenize(vocab, data, len(data), buf, len(buf), True, special)
    return list(buf[:n])


def all_logits(ctx, tokens, n_vocab):
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    batch = L.llama_batch_init(len(tokens), 0, 1)
    for i, t in enumerate(tokens):
        batch.token[i] = t
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1
    batch.n_tokens = len(tokens)
    assert L.llama_decode(ctx, batch) == 0
    out = np.array([np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, i), shape=(n_vocab,)) for i in range(len(tokens))])
    L.llama_batch_free(batch)
    return out


def greedy(ctx, prompt, n_vocab, steps):
    tokens = list(prompt)
    for _ in range(steps):
        logits = all_logits(ctx, tokens, n_vocab)[-1]
        tokens.append(int(logits.argmax()))
    return tokens[len(prompt):]


def main(model_path, out_path, text_path="tools/conformance/data/english.txt"):
    L.llama_backend_init()
    model = L.llama_model_load_from_file(model_path.encode(), L.llama_model_default_params())
    cp = L.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = 2048, 2048, 512
    ctx = L.llama_init_from_model(model, cp)
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)

    prompts = []
    for text in PROMPTS:
        prompt = tokenize(vocab, text, False)
        continuation = greedy(ctx, prompt, n_vocab, CONTINUATION)
        logits = all_logits(ctx, prompt + continuation, n_vocab)
        top2 = np.sort(logits, axis=1)[:, -2:]
        prompts.append({
            "text": text, "tokens": prompt, "continuation": continuation,
            "top1": [int(i) for i in logits.argmax(axis=1)],
            "margin": [round(float(a - b), 4) for b, a in top2],
        })

    words = open(text_path, encoding="utf-8").read().split()
    excerpt = " ".join(words[:300])
    ids = tokenize(vocab, excerpt, True)
    logits = all_logits(ctx, ids, n_vocab).astype(np.float64)
    logsumexp = np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)) + logits.max(axis=1)
    logprobs = [logits[i, ids[i + 1]] - logsumexp[i] for i in range(len(ids) - 1)]

    golden = {
        "recorded_with": f"llama-cpp-python {L.__version__} (tools/golden/record_llama.py)",
        "model": model_path.split("/")[-1],
        "model_sha256": hashlib.sha256(open(model_path, "rb").read()).hexdigest(),
        "tokenize": [{"text": t, "tokens": tokenize(vocab, t, True)} for t in TOKENIZE],
        "prompts": prompts,
        "perplexity": {"text": excerpt, "tokens": ids, "perplexity": float(np.exp(-np.mean(logprobs)))},
    }
    with open(out_path, "w") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out_path}: {len(prompts)} prompts, perplexity {golden['perplexity']['perplexity']:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
