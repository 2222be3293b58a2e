"""Inputs shared by the checks: prompts, the tokenizer torture list and the
English text for perplexity (data/english.txt, written for this project)."""
from __future__ import annotations

import os

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")

# Varied raw prompts for greedy continuations: prose, lists, code, maths,
# dialogue, other languages, chat-formatted text and a few awkward shapes.
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "Q: What is 17 times 23?\nA:",
    "The three primary colors are",
    "Here is a list of fruits:\n1. Apple\n2.",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
    "In 1969, Neil Armstrong",
    "Photosynthesis is the process by which",
    "SELECT name, age FROM users WHERE",
    "La vie est belle quand",
    "My favourite recipe for pancakes needs",
    "The quick brown fox",
    "import numpy as np\n\nx = np.arange(10)\nprint(",
    "Dear Sir or Madam,\n\nI am writing to",
    "The mitochondria is",
    "   Leading spaces and\ttabs, then a question: why?",
    "1, 1, 2, 3, 5, 8, 13,",
    "Water freezes at 0 degrees Celsius, which is",
    "A haiku about autumn:\n",
    "To be or not to be,",
    "The best way to learn a new programming language is",
    "{\"name\": \"Alice\", \"age\":",
    "Translate to German: Good morning! ->",
]

# Greedy continuations for the teacher-forced agreement check.
AGREEMENT_PROMPTS = PROMPTS[:6]

# Tokenizer torture list: each string is tokenized by llama.cpp and by moectl.
TORTURE = [
    "",
    " ",
    "  ",
    "      many     spaces   between    words      ",
    "\t",
    "\n",
    "\n\n\n",
    " \t \n \r\n mixed whitespace\t\t\nend",
    "Hello, world!",
    "hello world",
    " Hello World",
    "HELLO WORLD",
    "café naïve résumé coöperate",
    "Ångström Øresund Straße",
    "ﬁ ligature and combining: e\u0301 a\u0308",
    "日本語のテキストです。",
    "中文字符测试，还有标点。",
    "한국어 텍스트",
    "Привет, как дела?",
    "مرحبا بالعالم",
    "😀 😂 🤖",
    "👩‍👩‍👧‍👦 family",
    "👍🏽 👋🏿 🧑🏻‍💻",
    "🏳️‍🌈 flag",
    "1234567890",
    "12345678901234567890123456789",
    "3.14159265358979 and 2,718,281",
    "I'm you're he's we'll they'd can't won't",
    "I'M YOU'RE HE'S WE'LL",
    "don't 've 're 's 'd 'll",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n",
    "<|endoftext|>",
    "text<|im_end|>more text",
    "<s> [INST] hello [/INST] </s>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "    indented\n\tcode\n        deeper",
    "https://example.com/path?query=1&b=2#frag",
    "user@example.com",
    "!!!???...,,,;;;:::",
    "--- *** ___ ~~~",
    "a",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "The year 2024 had 366 days.",
    "\u00a0non-breaking\u00a0space",
    "zero\u200bwidth\u200bspace",
]


def english_text() -> str:
    with open(os.path.join(DATA_DIR, "english.txt"), encoding="utf-8") as f:
        return f.read()
