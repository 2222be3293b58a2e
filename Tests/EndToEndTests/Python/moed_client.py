"""A moed client written only from Protos/ and docs/protocol.md.

Proves the wire format is standard protobuf: the message classes come from
grpcio-tools' protoc run on Protos/moed/v1/moed.proto, the framing is four
big-endian length bytes. Usage:

    python moed_client.py PROTOS_DIR SOCKET PROMPT

Prints one JSON object with what it saw, for the Swift test to check.
"""
import importlib
import json
import os
import socket
import struct
import sys
import tempfile


def load_messages(protos_dir):
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="moed-py-")
    status = protoc.main(["protoc", f"-I{protos_dir}", f"--python_out={out}", "moed/v1/moed.proto"])
    if status != 0:
        raise SystemExit(f"protoc failed with {status}")
    sys.path.insert(0, out)
    return importlib.import_module("moed.v1.moed_pb2")


class Client:
    def __init__(self, pb, path, timeout=30):
        self.pb = pb
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.next_id = 1

    def send(self, **call):
        request = self.pb.Request(id=self.next_id, **call)
        self.next_id += 1
        payload = request.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)
        return request.id

    def receive(self):
        length = struct.unpack(">I", self._exactly(4))[0]
        response = self.pb.Response()
        response.ParseFromString(self._exactly(length))
        return response

    def _exactly(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by moed")
            data += chunk
        return data

    def close(self):
        self.sock.close()


def main():
    protos_dir, path, prompt = sys.argv[1:4]
    pb = load_messages(protos_dir)
    seen = {}

    client = Client(pb, path)
    client.send(status=pb.StatusRequest())
    status = client.receive()
    seen["status_final"] = status.final
    seen["pid"] = status.status.pid
    seen["tiers"] = [t.name for t in status.status.tiers]
    seen["kv_types"] = [t.kv_type for t in status.status.tiers]
    seen["memory_split"] = status.status.memory_used == status.status.memory_held + status.status.memory_reserved

    # Greedy, with each token's log-probability and its 2 likeliest alternatives.
    generate = pb.GenerateRequest(prompt=prompt, max_tokens=5, sampling=pb.Sampling(temperature=0), logprobs=2)
    call = client.send(generate=generate)
    text, chunks, tokens, logprobs = "", 0, [], []
    while True:
        response = client.receive()
        if response.id != call:
            continue
        if response.HasField("error"):
            seen["generate_error"] = pb.Code.Name(response.error.code)
            break
        if response.WhichOneof("result") == "chunk":
            text += response.chunk.text
            chunks += 1
            tokens += list(response.chunk.tokens)
            for entry in response.chunk.logprobs:
                logprobs.append({"token": entry.token, "logprob": entry.logprob, "piece": entry.piece.decode("utf-8", "replace"),
                                 "top": [[t.token, t.logprob] for t in entry.top]})
        if response.final:
            seen["finish_reason"] = response.summary.finish_reason
            seen["tier"] = response.summary.tier
            break
    seen["text"] = text
    seen["chunks"] = chunks
    seen["tokens"] = tokens
    seen["logprobs"] = logprobs

    client.send(generate=pb.GenerateRequest(prompt=prompt, max_tokens=5, logprobs=21))
    too_many = client.receive()
    seen["too_many_logprobs"] = pb.Code.Name(too_many.error.code)

    # Prefix reuse: the same prompt again continues the first one's cached
    # sequence; with cache_prompt = false it is evaluated in full.
    for key, cache in (("cached_prompt_tokens", True), ("uncached_prompt_tokens", False)):
        again = pb.GenerateRequest(prompt=prompt, max_tokens=2, sampling=pb.Sampling(temperature=0), cache_prompt=cache)
        call = client.send(generate=again)
        while True:
            response = client.receive()
            if response.id == call and response.final:
                seen[key] = response.summary.cached_prompt_tokens
                break

    client.send(use=pb.UseRequest(tier="no-such-tier"))
    refused = client.receive()
    seen["refused_code"] = pb.Code.Name(refused.error.code)

    garbage = Client(pb, path)
    garbage.sock.sendall(b"\x00\x00\x00\x03\xff\xff\xff")
    answer = garbage.receive()
    seen["garbage_code"] = pb.Code.Name(answer.error.code)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
