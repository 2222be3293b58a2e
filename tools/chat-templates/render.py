#!/usr/bin/env python3
"""Renders the chat-template fixtures with jinja2 in llama-cpp-python's
Jinja2ChatFormatter environment (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, transformers-style tojson), with the variables
llama.cpp's --jinja passes (no `tools` when there are none), and prints the cases
with their expected prompt strings (or the template's error) as JSON.

Usage (from the package root, with the venv):
  .venv/bin/python tools/chat-templates/render.py > Tests/TokenizerTests/ChatTemplates/expected.json
The Swift test ChatTemplateJinjaTests compares moed's interpreter with the
committed file, and re-runs this script to compare with jinja2 when .venv exists.
"""
import json
import os
import sys

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests", "TokenizerTests", "ChatTemplates")

# (template file, bos_token, eos_token): the tokens each family's GGUF carries.
TEMPLATES = [
    ("smollm2.jinja", "<|im_start|>", "<|im_end|>"),
    ("qwen2.5.jinja", ",", "<|im_end|>"),
    ("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    ("llama3.2.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    ("gemma3.jinja", "<bos>", "<eos>"),
    ("phi3.5.jinja", "<s>", "<|endoftext|>"),
    ("phi3-mini.jinja", "<s>", "<|endoftext|>"),
    ("mistral-instruct.jinja", "<s>", "</s>"),
    ("deepseek-r1-distill-qwen.jinja", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("phi4-mini-llama-cpp.jinja", "<|endoftext|>", "<|endoftext|>"),
]

CONVERSATIONS = {
    "user": [["user", "Hello"]],
    "system-user": [["system", "You are a helpful assistant"], ["user", "Hello"]],
    "multi-turn": [
        ["user", "Hello"],
        ["assistant", "Hi there"],
        ["user", "Who are you"],
        ["assistant", "   I am an assistant   "],
        ["user", "Another question"],
    ],
    "system-multi-turn": [
        ["system", "  Be brief.\n"],
        ["user", "Ünïcödé — 日本語 \"quotes\" 'single' {{ not a tag }}"],
        ["assistant", "\nSure.\n"],
        ["user", "Tabs\tand\nnewlines\n\n"],
    ],
    "empty-content": [["system", ""], ["user", ""]],
    "reasoning": [["user", "2+2?"], ["assistant", "<think>\nadd them\n</think>\n\n4"], ["user", "and 3+3?"]],
    "not-alternating": [["user", "a"], ["user", "b"]],
}


# Small templates, one construct each, rendered with the "multi-turn"
# conversation: they pin down the interpreter's semantics beyond the families.
SNIPPETS = {
    "loop-variables": "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}:{{ loop.first }}{{ loop.last }}{% if not loop.first %}<{{ loop.previtem.role }}{% endif %}{% if not loop.last %}>{{ loop.nextitem.role }}{% endif %};{% endfor %}",
    "namespace": "{% set ns = namespace(n=0, last='') %}{% for m in messages if m.role == 'user' %}{% set ns.n = ns.n + 1 %}{% set ns.last = m.content %}{% endfor %}{{ ns.n }} {{ ns.last }}",
    "set-scope": "{% set x = 1 %}{% for m in messages %}{% set x = x + 1 %}{% endfor %}{{ x }}",
    "macro": "{% macro turn(role, text, end='|') %}[{{ role | upper }}:{{ text }}{{ end }}]{% endmacro %}{% for m in messages %}{{ turn(m.role, m.content | trim) }}{{ turn(m.role, 'x', end='!') }}{% endfor %}",
    "call-block": "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}{{ messages | length }}{% endcall %}",
    "whitespace-control": "  {% for m in messages %}\n    {%- if m.role == 'user' %}\n      U {{- m.content -}}   \n    {% else %}\n      A {{ m.content }}\n    {% endif %}\n  {% endfor %}\n  {#- comment #}\n  end  {%+ if true %}+{% endif %}\n",
    "filters": "{{ messages | map(attribute='role') | join(', ') }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='content') | map('trim') | join('+') }}|{{ missing | default('dflt') }}|{{ '' | default('empty', true) }}|{{ 'a b' | replace(' ', '_') }}|{{ [3, 1, 2] | sort | join }}|{{ [1, 2, 2, 1] | unique | list }}|{{ 'x' | string }}{{ 3 | string }}|{{ ['a','b'] | first }}{{ ['a','b'] | last }}|{{ 'abc' | reverse }}|{{ '  t  ' | trim }}|{{ 'ab' | title }}{{ 'aB' | capitalize }}|{{ -3 | abs }}|{{ '7' | int + 1 }}|{{ '2.5' | float }}",
    "tojson": "{{ messages[0] | tojson }}|{{ {'a': [1, 2.5, none, true], 'b': {'c': 'é\"\\\\'}} | tojson }}|{{ {'k': [1, {'x': 2}], 'e': [], 'o': {}} | tojson(indent=2) }}|{{ 'a<b>&' | tojson }}",
    "string-methods": "{% set s = '  Hello, World  ' %}[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ s.strip().lower() }}][{{ s.upper() }}][{{ s.split(',') }}][{{ s.split() }}][{{ 'a,b,c'.split(',', 1) }}][{{ s.replace('l', 'L') }}][{{ s.strip().startswith('Hello') }}][{{ s.strip().endswith(('x', 'World')) }}][{{ 'xxhixx'.strip('x') }}][{{ s.find('World') }}][{{ 'a-b'.title() }}][{{ '-'.join(['a', 'b']) }}][{{ 'a\\nb'.splitlines() }}]",
    "dict-methods": "{% set d = {'b': 1, 'a': 2} %}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.keys() | list }}{{ d.values() | list }}{{ d.get('a') }}{{ d.get('z', 'none') }}{{ d.get('z') }}{{ 'a' in d }}{{ d['a'] }}{{ d.a }}",
    "tests": "{% for v in [none, 1, 1.5, 'x', [1], {'a': 1}, true] %}{{ v is none }}{{ v is string }}{{ v is number }}{{ v is integer }}{{ v is float }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is boolean }};{% endfor %}{{ missing is defined }}{{ missing is undefined }}{{ messages is defined }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby(3) }}{{ 1 is not none }}{{ 'a' is equalto 'a' }}{{ 2 is gt 1 }}",
    "operators": "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'b' > 'a' }} {{ 'ell' in 'hello' }} {{ 3 not in [1, 2] }} {{ not true or false and true }} {{ 1 if false }}{{ 'y' if true else 'n' }} {{ 0.1 + 0.2 }} {{ 1e3 }} {{ 10 - 2 - 3 }}",
    "slices-and-indexes": "{{ messages[-1].content }}|{{ (messages[1:3] | map(attribute='role') | list) }}|{{ messages[::2] | length }}|{{ messages[::-1][0].role }}|{{ 'abcdef'[1:4] }}|{{ 'abcdef'[::-2] }}|{{ [1, 2, 3][-2:] }}|{{ messages[0]['role'] }}|{{ messages[10] is defined }}",
    "loop-controls": "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in range(2, 8, 3) %}{{ i }}{% else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}",
    "set-block-and-filter-block": "{% set greeting %}Hello {{ messages[0].content }}{% endset %}[{{ greeting }}]{% filter upper %}shout {{ messages | length }}{% endfilter %}",
    "printing": "{{ none }}|{{ true }}|{{ [1, 'a', none, 1.0] }}|{{ {'a': 'b'} }}|{{ \"it's\" }}|{{ missing }}|{{ 3.0 }}|{{ 1.5e-7 }}",
    "generation-tag": "{% for m in messages %}{% generation %}{{ m.role }}{% endgeneration %},{% endfor %}",
    "raise": "{% if messages | length > 2 %}{{ raise_exception('too many: ' ~ messages | length) }}{% endif %}",
}


def render(template, bos, eos, messages, add_generation_prompt):
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                    add_generation_prompt=add_generation_prompt)
    msgs = [{"role": r, "content": c} for r, c in messages]

    def raise_exception(message):
        raise ValueError(message)

    try:
        # The formatter's own environment, with the variables llama.cpp's
        # --jinja passes: `tools` (and functions, tool_choice) are left
        # undefined when there are none, where Jinja2ChatFormatter.__call__
        # sets them to None (which breaks templates testing `tools is
        # defined`, Phi-4-mini's). date_string fixes Llama 3.x's "Today Date".
        prompt = formatter._environment.render(
            messages=msgs, eos_token=eos, bos_token=bos, raise_exception=raise_exception,
            add_generation_prompt=add_generation_prompt, strftime_now=formatter.strftime_now,
            date_string="26 Jul 2024")
        return prompt, None
    except Exception as error:  # raise_exception and template errors
        return None, str(error)


def main():
    cases = []
    for name, bos, eos in TEMPLATES:
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
            template = f.read()
        for conversation, messages in CONVERSATIONS.items():
            for add in (True, False):
                expected, error = render(template, bos, eos, messages, add)
                cases.append({
                    "template": name, "conversation": conversation, "messages": messages,
                    "add_generation_prompt": add, "bos_token": bos, "eos_token": eos,
                    "expected": expected, "error": error,
                })
    for name, template in SNIPPETS.items():
        expected, error = render(template, "<s>", "</s>", CONVERSATIONS["multi-turn"], True)
        cases.append({
            "template": "snippet:" + name, "source": template, "conversation": "multi-turn",
            "messages": CONVERSATIONS["multi-turn"], "add_generation_prompt": True,
            "bos_token": "<s>", "eos_token": "</s>", "expected": expected, "error": error,
        })
    json.dump({"generator": "tools/chat-templates/render.py", "cases": cases}, sys.stdout,
              ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
