"""Streaming tokens/s through moegate against moectl, on the same moed.

Starts moed (SmolLM2 on the dense plugin, one tier) and moegate on a free
loopback port from BUILD (default .build/release), then alternates: `moectl
generate --json` and an OpenAI streaming completion through moegate, the same
raw prompt, greedy, MAX tokens. Each run's rate is generated tokens over the
client's wall time from sending the request to the last byte (moectl's
process start included, which favours the gateway slightly; ~tens of ms).
Prints the medians and their ratio. The machine may be noisy: read the spread.

usage: .venv/bin/python bench/gateway_bench.py [--build DIR] [--moegate FILE] [--model FILE] [--tokens N] [--rounds R]
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

import openai

PROMPT = "The history of the river begins"


def start(build, moegate, model, scratch):
    socket = os.path.join(scratch, "moed.sock")
    config = os.path.join(scratch, "moed.toml")
    with open(config, "w") as f:
        f.write(f'[daemon]\nsocket = "{socket}"\nsocket_mode = "0600"\nthreads = 1\n'
                f'[tiers.haiku]\nplugin = "dense"\nmodel = "{model}"\ncontext = 1024\nrepeat_penalty = 1.0\n')
    os.chmod(config, 0o644)
    moed = subprocess.Popen([f"{build}/moed", "--config", config], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if subprocess.run([f"{build}/moectl", "status", "--socket", socket], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    gate = subprocess.Popen([moegate or f"{build}/moegate", "--socket", socket, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r"port (\d+)", gate.stdout.readline()).group(1))
    return moed, gate, socket, port


def via_moectl(build, socket, tokens):
    began = time.perf_counter()
    out = subprocess.run([f"{build}/moectl", "generate", "--socket", socket, "--raw", "--json", "--temperature", "0",
                          "--max-tokens", str(tokens), PROMPT], capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - began
    return len(json.loads(out)["tokens"]), seconds


def via_http(port, tokens):
    """The same stream read with http.client: a light client, so the figure is the gateway's, not pydantic's."""
    body = json.dumps({"model": "haiku", "prompt": PROMPT, "max_tokens": tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    count = 0
    for line in answer:
        if line.startswith(b"data: {") and b'"usage":{' in line:
            count = json.loads(line[6:])["usage"]["completion_tokens"]
    connection.close()
    return count, time.perf_counter() - began


def via_gateway(client, tokens):
    began = time.perf_counter()
    count = 0
    for chunk in client.completions.create(model="haiku", prompt=PROMPT, max_tokens=tokens, temperature=0,
                                           stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            count = chunk.usage.completion_tokens
    return count, time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--moegate", help="moegate binary (default: BUILD/moegate); moed's build is shared by both paths")
    parser.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", choices=["http", "openai"], default="http",
                        help="http: http.client reading the SSE lines; openai: OpenAI's Python client (parses each chunk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o755)
        moed, gate, socket, port = start(args.build, args.moegate, os.path.abspath(args.model), scratch)
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
            via_moectl(args.build, socket, 8)  # warm: the tier loads once
            rates = {"moectl": [], "moegate": []}
            for round_ in range(args.rounds):
                order = [("moectl", lambda: via_moectl(args.build, socket, args.tokens)),
                         ("moegate", lambda: via_http(port, args.tokens) if args.client == "http"
                          else via_gateway(client, args.tokens))]
                for name, run in (order if round_ % 2 == 0 else order[::-1]):
                    count, seconds = run()
                    rates[name].append(count / seconds)
            a, b = statistics.median(rates["moectl"]), statistics.median(rates["moegate"])
            print(json.dumps({"tokens": args.tokens, "rounds": args.rounds, "client": args.client,
                              "moectl_tokens_per_s": [round(r, 2) for r in rates["moectl"]],
                              "moegate_tokens_per_s": [round(r, 2) for r in rates["moegate"]],
                              "median_moectl": round(a, 2), "median_moegate": round(b, 2),
                              "ratio_moegate_over_moectl": round(b / a, 3)}, indent=1))
        finally:
            gate.terminate()
            moed.terminate()
            gate.wait()
            moed.wait()


if __name__ == "__main__":
    main()
