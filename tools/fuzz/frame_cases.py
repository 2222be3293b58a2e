"""The cases of the frames fuzzer (tools/fuzz/frames.py): deterministic for
(seed, case number), made from the protocol's messages (Protos/). Each case
is the bytes one connection sends and whether it reads the replies (True),
hangs up at once (False), or stays open while moed is checked ("hold")."""
import random
import struct

INTERESTING_BYTES = [0, 1, 0x7F, 0x80, 0xFF]
INTERESTING_U32 = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE]
INTERESTING_U64 = INTERESTING_U32 + [1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]
FLOATS = [0.0, -0.0, -1.0, 1e-45, 1e38, 3.4e38, -3.4e38, float("inf"), float("-inf"), float("nan"), 0.5, 2.0]
STRINGS = ["", "haiku", "opus", "no-such-tier", "a\x00b", "\x00", "haiku\x00opus", "\u202e\x1b[2J", "é" * 300,
           "x" * 70000, "../../etc/passwd", "/tmp", "\ud7ff\ue000\U0010ffff"]


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def status_frame(pb):
    return frame(pb.Request(id=1, status=pb.StatusRequest()).SerializeToString())


def hostile_sampling(pb, r):
    s = pb.Sampling()
    for field in ["temperature", "top_p", "min_p", "repeat_penalty"]:
        if r.random() < 0.6:
            setattr(s, field, r.choice(FLOATS))
    for field in ["top_k", "repeat_last_n"]:
        if r.random() < 0.5:
            setattr(s, field, r.choice(INTERESTING_U32))
    if r.random() < 0.5:
        s.seed = r.choice(INTERESTING_U64)
    return s


def hostile_request(pb, r):
    """A well-formed request with its fields at extremes."""
    req = pb.Request(id=r.choice(INTERESTING_U64 + [r.randrange(1, 100)]))
    kind = r.randrange(12)
    tier = r.choice(STRINGS[:8])
    if kind <= 3:
        g = req.generate
        g.tier = tier if r.random() < 0.5 else ""
        if r.random() < 0.7:
            g.prompt = r.choice(STRINGS + ["Once upon a time"] * 4)
        for _ in range(r.choice([0, 0, 1, 3, 50])):
            m = g.messages.add(role=r.choice(["user", "system", "assistant", "", "\x00", "tool"]),
                               content=r.choice(STRINGS))
        if r.random() < 0.6:
            g.sampling.CopyFrom(hostile_sampling(pb, r))
        count = r.choice([0, 0, 1, 5, 100, 1000])
        g.stop.extend(r.choice(STRINGS[:9] + ["o", "the", "\n"]) for _ in range(count))
        g.max_tokens = r.choice(INTERESTING_U32 + [1, 5, 20])
    elif kind == 4:
        req.tokenize.tier = tier
        req.tokenize.text = r.choice(STRINGS)
        req.tokenize.add_special = r.random() < 0.5
        req.tokenize.parse_special = r.random() < 0.5
    elif kind == 5:
        req.use.tier = tier
    elif kind == 6:
        req.load.tier = tier
    elif kind == 7:
        req.unload.tier = tier
    elif kind == 8:
        req.cancel.target_id = r.choice(INTERESTING_U64)
    elif kind == 9:
        req.stats.SetInParent()
    elif kind == 10:
        req.tiers.SetInParent()
    else:
        req.plugins.SetInParent()
    return req.SerializeToString()


def mutate(data, r, seeds):
    data = bytearray(data)
    for _ in range(r.randint(1, 4)):
        op = r.randrange(7)
        if op == 0 and data:
            data[r.randrange(len(data))] ^= 1 << r.randrange(8)
        elif op == 1 and data:
            data[r.randrange(len(data))] = r.choice(INTERESTING_BYTES)
        elif op == 2 and len(data) >= 4:
            at = r.randrange(len(data) - 3)
            data[at:at + 4] = struct.pack("<I", r.choice(INTERESTING_U32))
        elif op == 3:
            del data[r.randrange(len(data) + 1):]
        elif op == 4:
            other = r.choice(seeds)
            data = data[:r.randrange(len(data) + 1)] + other[r.randrange(len(other) + 1):]
        elif op == 5 and data:
            at = r.randrange(len(data))
            chunk = data[at:at + r.randint(1, 64)]
            where = r.randrange(len(data) + 1)
            data[where:where] = chunk
        elif data:
            # a protobuf varint length or tag byte set to an edge value
            data[r.randrange(len(data))] = r.choice([0x80, 0xFF, 0x0A, 0x12, 0x82, 0x7F])
    return bytes(data)


def make_case(pb, seed, index, seeds):
    """The bytes one case sends, and whether it reads the replies."""
    r = random.Random(seed * 1_000_003 + index)
    if r.random() < 0.001:  # a stop-string flood: 10 000 strings of 1000 bytes (issue 10, item 2)
        flood = pb.Request(id=1, generate=pb.GenerateRequest(prompt="Once", max_tokens=20,
                                                             stop=["s" * 999 + str(i % 10) for i in range(10_000)]))
        return frame(flood.SerializeToString()), "hold"
    if r.random() < 0.002:  # sends 5000 requests and never reads a reply (issue 10, item 3)
        return status_frame(pb) * 5000, "hold"
    kind = r.randrange(10)
    reads = r.random() < 0.7
    if kind == 0:  # random payload, honest length
        return frame(r.randbytes(r.choice([0, 1, 3, 16, 200, 4000]))), reads
    if kind == 1:  # length prefix at an edge, payload shorter or absent
        return struct.pack(">I", r.choice(INTERESTING_U32)) + r.randbytes(r.randrange(0, 64)), False
    if kind <= 4:  # a mutated real request
        payload = mutate(hostile_request(pb, r), r, seeds)
        return frame(payload), reads
    if kind <= 7:  # a valid request with hostile fields
        return frame(hostile_request(pb, r)), reads
    if kind == 8:  # several requests at once, pipelined, maybe the same id
        frames = [frame(hostile_request(pb, r)) for _ in range(r.randint(2, 20))]
        return b"".join(frames), reads
    # a valid stream cut anywhere, or with a mutated length prefix
    data = bytearray(frame(hostile_request(pb, r)))
    if r.random() < 0.5:
        data[:4] = struct.pack(">I", max(0, len(data) - 4 + r.choice([-2, -1, 1, 2, 1000])))
    else:
        del data[r.randrange(len(data) + 1):]
    return bytes(data), False
