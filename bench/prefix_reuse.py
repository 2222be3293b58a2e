#!/usr/bin/env python3
"""Prefix reuse through a real moed: time to first token of a conversation's
fifth turn (about 1,500 tokens of history) when the tier has the earlier
turns cached, against the same request with nothing cached.

    .venv/bin/python bench/prefix_reuse.py [--build .build/release] [--rounds 3]
        [--models models/SmolLM2-135M-Instruct.Q4_1.gguf,models/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf]

It starts its own moed (one tier per model, context 4096, one thread, greedy)
on a private socket, loads each tier first (so no figure includes a load),
and per round and model plays a fresh conversation: turns 1-4 with replies
of up to 64 tokens, then turn 5 (a one-line question) twice -- once as is (continues the cached
prefix) and once with cache_prompt = false (evaluates the whole prompt).
The figures are measured at the client, from sending the request to its
first streamed chunk. Prints one JSON object per model: the medians and
their ratio (the issue's bound: cached <= 0.2 x cold), the prompt length and
how much of it was cached. The machine may be busy: the ratio of two figures
taken back to back is the robust part.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "EndToEndTests", "Python"))
from moed_client import Client, load_messages  # noqa: E402

DEFAULT_MODELS = [
    "models/SmolLM2-135M-Instruct.Q4_1.gguf",
    "models/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
]

PARAGRAPH = (
    "The river rises in the hills above the old mill town, where the water runs cold and clear over "
    "granite shelves. Farmers along its banks have kept records of its floods for three hundred years, "
    "noting each spring how high the water climbed on the stone marker by the bridge. In dry summers the "
    "children walk across the shallows to the island where the heron nests, and in wet winters the ferry "
    "stops for weeks at a time. "
)


def user_turn(conversation, turn):
    # Turns 1-4 about 300 tokens each, different per conversation so no round
    # reuses another's prefix; turn 5 a short question, as a chat's next turn is.
    if turn == 5:
        return "Thank you. In one sentence: what happens to the ferry in winter?"
    return (f"Conversation {conversation}, part {turn}. Read this and remember it.\n"
            + PARAGRAPH * 3 + "Keep the dates, the names and the numbers in mind as well, together with the "
            "places along the river and the seasons in which each of them matters most to the town."
            + f"\nQuestion {turn}: what is the most important detail so far?")


def generate(client, pb, tier, messages, max_tokens, cache_prompt=True):
    """One streamed generation; returns (seconds to first chunk, reply text, summary)."""
    request = pb.GenerateRequest(tier=tier, max_tokens=max_tokens,
                                 sampling=pb.Sampling(temperature=0, repeat_penalty=1))
    for role, content in messages:
        request.messages.add(role=role, content=content)
    if not cache_prompt:
        request.cache_prompt = False
    started = time.monotonic()
    call = client.send(generate=request)
    first, text = None, ""
    while True:
        response = client.receive()
        if response.id != call:
            continue
        if response.HasField("error"):
            raise SystemExit(f"generate failed: {response.error.message}")
        if response.WhichOneof("result") == "chunk":
            if first is None:
                first = time.monotonic() - started
            text += response.chunk.text
        if response.final:
            return first if first is not None else time.monotonic() - started, text, response.summary


def round_for(client, pb, tier, conversation):
    messages = []
    for turn in range(1, 5):
        messages.append(("user", user_turn(conversation, turn)))
        _, reply, _ = generate(client, pb, tier, messages, 64)
        messages.append(("assistant", reply))
    messages.append(("user", user_turn(conversation, 5)))
    cached, _, warm = generate(client, pb, tier, messages, 8)
    cold, _, full = generate(client, pb, tier, messages, 8, cache_prompt=False)
    return {"cached_s": cached, "cold_s": cold, "prompt_tokens": warm.prompt_tokens,
            "cached_prompt_tokens": warm.cached_prompt_tokens, "cold_cached_tokens": full.cached_prompt_tokens,
            "cached_prompt_seconds": warm.prompt_seconds, "cold_prompt_seconds": full.prompt_seconds}


def start_moed(build, models, directory):
    socket_path = os.path.join(directory, "moed.sock")
    tiers = "".join(f'\n[tiers.t{i}]\nplugin = "dense"\nmodel = "{os.path.abspath(m)}"\ncontext = 4096\n'
                    f'keep_alive = "forever"\n' for i, m in enumerate(models))
    config = os.path.join(directory, "moed.toml")
    with open(config, "w") as f:
        f.write(f'[daemon]\nsocket = "{socket_path}"\nsocket_mode = "0600"\nthreads = 1\nmemory_budget = "8GiB"\n{tiers}')
    daemon = subprocess.Popen([os.path.join(build, "moed"), "--config", config], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(socket_path):
            return daemon, socket_path
        time.sleep(0.05)
    daemon.kill()
    raise SystemExit("moed did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    args = parser.parse_args()
    models = [m if os.path.isabs(m) else os.path.join(ROOT, m) for m in args.models.split(",")]
    missing = [m for m in models if not os.path.exists(m)]
    if missing:
        raise SystemExit(f"missing model files: {missing}")
    pb = load_messages(os.path.join(ROOT, "Protos"))
    directory = tempfile.mkdtemp(prefix="moed-prefix-")
    os.chmod(directory, 0o755)
    daemon, socket_path = start_moed(args.build, models, directory)
    try:
        client = Client(pb, socket_path, timeout=600)
        for index, model in enumerate(models):
            tier = f"t{index}"
            client.send(load=pb.LoadRequest(tier=tier))
            while not client.receive().final:
                pass
            rounds = [round_for(client, pb, tier, f"{index}-{r}") for r in range(args.rounds)]
            cached = statistics.median(r["cached_s"] for r in rounds)
            cold = statistics.median(r["cold_s"] for r in rounds)
            print(json.dumps({
                "model": os.path.basename(model), "rounds": rounds,
                "prompt_tokens": rounds[0]["prompt_tokens"], "cached_prompt_tokens": rounds[0]["cached_prompt_tokens"],
                "first_token_cached_s": round(cached, 3), "first_token_cold_s": round(cold, 3),
                "ratio": round(cached / cold, 3),
                "ratios": [round(r["cached_s"] / r["cold_s"], 3) for r in rounds],
            }), flush=True)
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    main()
