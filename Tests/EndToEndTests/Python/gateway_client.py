"""Drives moegate with OpenAI's own Python client, raw HTTP and Prometheus'
own text parser; prints one JSON object of what it saw for the Swift test.

usage: gateway_client.py BASE_URL MODEL CHECK [API_KEY]
CHECK: api (models, chat and completions, streamed and not, errors),
       metrics (counters move), concurrent (32 streaming clients).
"""
import json
import sys
import threading
import urllib.error
import urllib.request

import openai
from prometheus_client.parser import text_string_to_metric_families


def raw(base, path, body=None, key=None, method=None):
    """One HTTP request; returns (status, parsed JSON or text)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(base.rsplit("/v1", 1)[0] + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def check_api(client, base, model, key):
    seen = {"models": sorted(m.id for m in client.models.list().data)}
    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                          max_tokens=6, temperature=0, seed=7)
    seen["chat"] = {"text": chat.choices[0].message.content, "finish": chat.choices[0].finish_reason,
                    "object": chat.object, "completion_tokens": chat.usage.completion_tokens,
                    "total_tokens": chat.usage.total_tokens, "prompt_tokens": chat.usage.prompt_tokens}
    pieces, finishes, usage = [], [], None
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=6,
                                            temperature=0, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
        if chunk.usage:
            usage = chunk.usage.completion_tokens
    seen["chat_stream"] = {"text": "".join(pieces), "events": len(pieces), "finish": finishes, "usage": usage}
    text = client.completions.create(model=model, prompt="abc", max_tokens=5, temperature=0)
    seen["completion"] = {"text": text.choices[0].text, "finish": text.choices[0].finish_reason, "object": text.object}
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=model, prompt="abc", max_tokens=5, temperature=0, stream=True) if c.choices)
    seen["completion_stream"] = streamed
    stopped = client.completions.create(model=model, prompt="abc", max_tokens=20, temperature=0, stop=["toy"])
    seen["stop"] = {"text": stopped.choices[0].text, "finish": stopped.choices[0].finish_reason}
    try:
        client.chat.completions.create(model="no-such-tier", messages=[{"role": "user", "content": "hi"}])
        seen["unknown_model"] = "no error"
    except openai.NotFoundError as error:
        seen["unknown_model"] = {"status": error.status_code, "code": error.code, "param": error.param,
                                 "type": error.type}
    try:
        client.completions.create(model=model, prompt="abc", top_p=1.5)
        seen["bad_top_p"] = "no error"
    except openai.BadRequestError as error:
        seen["bad_top_p"] = {"status": error.status_code, "message": error.message}
    status, body = raw(base, "/v1/chat/completions", "{not json", key)
    seen["malformed"] = {"status": status, "error": body.get("error") if isinstance(body, dict) else body}
    status, body = raw(base, "/v1/chat/completions", json.dumps({"model": model, "messages": "x"}), key)
    seen["wrong_type"] = {"status": status, "type": body.get("error", {}).get("type") if isinstance(body, dict) else body}
    # a prompt longer than the tier's context (2048 tokens by default; the toy takes a byte a token)
    too_long = "x" * 5000
    attempts = {
        "too_long": lambda: client.completions.create(model=model, prompt=too_long, max_tokens=4),
        "too_long_stream": lambda: list(client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": too_long}], max_tokens=4, stream=True)),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            seen[name] = "no error"
        except openai.BadRequestError as error:
            seen[name] = {"status": error.status_code, "code": error.code, "param": error.param,
                          "message": error.message}
    status, body = raw(base, "/healthz", method="GET")
    seen["healthz"] = {"status": status, "body": body}
    return seen


def samples(base, key):
    status, text = raw(base, "/metrics", key=key, method="GET")
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
            found.setdefault("__types", {})[family.name] = family.type
    return status, found


def check_metrics(client, base, model, key):
    status, before = samples(base, key)
    client.completions.create(model=model, prompt="abc", max_tokens=5, temperature=0)
    "".join(c.choices[0].text for c in client.completions.create(
        model=model, prompt="abc", max_tokens=4, temperature=0, stream=True) if c.choices)
    _, after = samples(base, key)

    def moved(name):
        return after.get(f"{name}{{tier={model}}}", 0) - before.get(f"{name}{{tier={model}}}", 0)
    return {
        "status": status,
        "types": after["__types"],
        "requests": moved("moed_tier_requests_total"),
        "generated": moved("moed_tier_generated_tokens_total"),
        "prompt": moved("moed_tier_prompt_tokens_total"),
        "ttft_count": moved("moed_tier_time_to_first_token_seconds_count"),
        "token_latency_count": moved("moed_tier_token_latency_seconds_count"),
        "ttft_inf_bucket": after.get(f"moed_tier_time_to_first_token_seconds_bucket{{le=+Inf,tier={model}}}"),
        "ready": after.get(f"moed_tier_state{{state=ready,tier={model}}}"),
        "loads": after.get(f"moed_tier_loads_total{{tier={model}}}"),
        "up": after.get("moed_up{}"),
        "expert_entropy_layer0": after.get(f"moed_tier_expert_load_entropy_nats{{layer=0,tier={model}}}"),
        "completions": after.get("moegate_completions_total{}", 0) - before.get("moegate_completions_total{}", 0),
    }


def check_concurrent(client, base, model, key, count=32):
    errors, texts = [], []
    lock = threading.Lock()

    def one(index):
        try:
            text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"client {index}"}], max_tokens=8,
                temperature=0, stream=True) if c.choices)
            with lock:
                texts.append(text)
        except Exception as error:  # every failure is counted and named
            with lock:
                errors.append(f"{type(error).__name__}: {error}")
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"clients": count, "finished": len(texts), "nonempty": sum(1 for t in texts if t), "errors": errors[:5],
            "error_count": len(errors)}


def check_greedy(client, base, model, key):
    """A real model: greedy chat streamed and whole give the same text."""
    ask = dict(model=model, messages=[{"role": "user", "content": "Name a river in Europe."}], max_tokens=12,
               temperature=0)
    _, before = samples(base, key)
    whole = client.chat.completions.create(**ask)
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**ask, stream=True)
                       if c.choices)
    again = client.chat.completions.create(**ask)
    _, after = samples(base, key)
    cached = f"moed_tier_cached_prompt_tokens_total{{tier={model}}}"
    return {"whole": whole.choices[0].message.content, "streamed": streamed,
            "completion_tokens": whole.usage.completion_tokens, "prompt_tokens": whole.usage.prompt_tokens,
            "first_cached": whole.usage.prompt_tokens_details.cached_tokens,
            "again_cached": again.usage.prompt_tokens_details.cached_tokens,
            "cached_moved": after.get(cached, 0) - before.get(cached, 0)}


RIVER_SCHEMA = {"type": "object", "required": ["river", "country"],
                "properties": {"river": {"type": "string", "maxLength": 24},
                               "country": {"enum": ["France", "Germany", "Spain", "Italy", "Other"]}}}


def check_structured(client, base, model, key):
    """A real model: response_format with a JSON schema, and logprobs in both shapes."""
    question = [{"role": "user", "content": "Name a river in Europe and its country, as JSON."}]
    shaped = client.chat.completions.create(
        model=model, messages=question, max_tokens=80, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "river", "strict": True, "schema": RIVER_SCHEMA}})
    answer = shaped.choices[0].message.content
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = None
    ask = dict(model=model, messages=[{"role": "user", "content": "Name a river in Europe."}], max_tokens=8, temperature=0)
    whole = client.chat.completions.create(**ask, logprobs=True, top_logprobs=3)
    streamed = []
    for chunk in client.chat.completions.create(**ask, logprobs=True, top_logprobs=3, stream=True):
        if chunk.choices and chunk.choices[0].logprobs:
            streamed += chunk.choices[0].logprobs.content
    entries = whole.choices[0].logprobs.content
    text = client.completions.create(model=model, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=2)
    legacy = text.choices[0].logprobs
    return {
        "schema_finish": shaped.choices[0].finish_reason, "schema_answer": answer,
        "schema_parsed": parsed if isinstance(parsed, dict) else None,
        "completion_tokens": whole.usage.completion_tokens,
        "content": whole.choices[0].message.content,
        "entries": [{"token": e.token, "logprob": e.logprob, "bytes": e.bytes,
                     "top": [{"token": t.token, "logprob": t.logprob} for t in e.top_logprobs]} for e in entries],
        "streamed_tokens": [e.token for e in streamed],
        "plain_logprobs": client.chat.completions.create(**ask).choices[0].logprobs is None,
        "legacy_text": text.choices[0].text, "legacy_tokens": legacy.tokens, "legacy_logprobs": legacy.token_logprobs,
        "legacy_top": legacy.top_logprobs, "legacy_offsets": legacy.text_offset,
    }


def main():
    base, model, check = sys.argv[1], sys.argv[2], sys.argv[3]
    key = sys.argv[4] if len(sys.argv) > 4 else None
    client = openai.OpenAI(base_url=base, api_key=key or "unused", max_retries=0, timeout=120)
    if check == "auth":
        try:
            openai.OpenAI(base_url=base, api_key="wrong-key", max_retries=0).models.list()
            seen = {"wrong": "no error"}
        except openai.AuthenticationError as error:
            seen = {"wrong": {"status": error.status_code, "code": error.code}}
        seen["right"] = sorted(m.id for m in client.models.list().data)
        seen["healthz"] = raw(base, "/healthz", method="GET")[0]
        seen["metrics_without_key"] = raw(base, "/metrics", method="GET")[0]
    else:
        seen = {"api": check_api, "metrics": check_metrics, "concurrent": check_concurrent,
                "greedy": check_greedy, "structured": check_structured}[check](client, base, model, key)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
