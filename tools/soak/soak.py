"""The soak of tools/soak/run.sh: one moed, many clients, for a set time.

64 clients (by default) generate and chat on random tiers, a `use` switches
the default tier every second, a `reload` comes every 30 s, and now and then
a client hangs up mid-stream. Every response is counted by call and code;
moed's pid and RSS (from /proc) are sampled every second. Failures are any
code other than OK and the documented RESOURCE_EXHAUSTED (queue full), a
connection moed closed while a call was open, moed's pid changing or moed
exiting, and RSS growing more than --rss-growth after warm-up. Exit 1 on any.

    python soak.py --moed BIN --config TOML [--minutes M] [--clients N]
"""
import argparse
import atexit
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "EndToEndTests", "Python"))
from moed_client import Client, load_messages  # noqa: E402

ALLOWED = {"OK", "RESOURCE_EXHAUSTED"}
PROMPTS = ["Write one sentence about the sea.", "Name three rivers in Europe.", "Count to five:",
           "The capital of France is", "Once upon a time"]


class Tally:
    """Responses by call and code, and failures with what they were."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes = collections.Counter()
        self.failures = []
        self.killed = 0

    def count(self, call, code, detail=""):
        with self.lock:
            self.codes[(call, code)] += 1
            if code not in ALLOWED:
                self.failures.append(f"{call}: {code} {detail}"[:300])


class Connection(Client):
    """moed_client's framing, a long default timeout, and one call counted."""

    def __init__(self, pb, path, timeout=120):
        super().__init__(pb, path, timeout)

    def call(self, name, tally, hang_up_after_chunk=False, **request):
        """One call to its final response; returns the code counted."""
        try:
            call_id = self.send(**request)
            while True:
                response = self.receive()
                if response.id != call_id:
                    continue
                if response.HasField("error"):
                    code = self.pb.Code.Name(response.error.code)
                    tally.count(name, code, response.error.message)
                    return code
                if hang_up_after_chunk and response.WhichOneof("result") == "chunk":
                    with tally.lock:
                        tally.killed += 1
                    return "KILLED"
                if response.final:
                    tally.count(name, "OK")
                    return "OK"
        except (OSError, ConnectionError) as error:
            tally.count(name, "CONNECTION_LOST", str(error))
            return "CONNECTION_LOST"



def client(pb, args, tally, stop, number):
    r = random.Random(args.seed * 1000 + number)
    connection = None
    while not stop.is_set():
        if connection is None:
            try:
                connection = Connection(pb, args.socket)
            except OSError as error:
                tally.count("connect", "CONNECT_FAILED", str(error))
                time.sleep(0.5)
                continue
        tier = r.choice(["", "haiku", "sonnet", "opus"])
        sampling = pb.Sampling(temperature=r.choice([0.0, 0.7, 1.0]), seed=r.randrange(1, 1 << 32))
        kill = r.random() < args.kill_fraction
        if r.random() < 0.5:
            request = pb.GenerateRequest(tier=tier, prompt=r.choice(PROMPTS), max_tokens=r.randint(4, args.max_tokens),
                                         sampling=sampling)
            name = "generate"
        else:
            request = pb.GenerateRequest(tier=tier, messages=[pb.ChatMessage(role="user", content=r.choice(PROMPTS))],
                                         max_tokens=r.randint(4, args.max_tokens), sampling=sampling)
            name = "chat"
        code = connection.call(name, tally, hang_up_after_chunk=kill, generate=request)
        if code in ("KILLED", "CONNECTION_LOST") or r.random() < 0.1:
            connection.close()  # a killed client's socket goes mid-stream
            connection = None


def every(seconds, stop, action):
    next_time = time.monotonic()
    while not stop.is_set():
        next_time += seconds
        stop.wait(max(0, next_time - time.monotonic()))
        if not stop.is_set():
            action()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moed", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--tiers", default="haiku,sonnet,opus")
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--kill-fraction", type=float, default=0.05, help="share of calls whose client hangs up mid-stream")
    parser.add_argument("--switch-seconds", type=float, default=1)
    parser.add_argument("--reload-seconds", type=float, default=30)
    parser.add_argument("--warmup-fraction", type=float, default=0.2)
    parser.add_argument("--rss-growth", type=float, default=0.25, help="most RSS may grow after warm-up (fraction)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    pb = load_messages(os.path.join(ROOT, "Protos"))
    tiers = args.tiers.split(",")

    log = open(args.log or os.devnull, "ab")
    daemon = subprocess.Popen([args.moed, "--config", args.config], stdout=log, stderr=log)
    # Whatever ends this script (an exception included) must not leave moed running.
    atexit.register(lambda: daemon.poll() is None and daemon.kill())
    tally = Tally()
    for _ in range(600):
        try:
            c = Connection(pb, args.socket, timeout=5)
            c.send(status=pb.StatusRequest())
            pid = c.receive().status.pid
            c.close()
            break
        except (OSError, ConnectionError):
            if daemon.poll() is not None:
                sys.exit(f"moed exited at start ({daemon.returncode}); see {args.log}")
            time.sleep(0.1)
    else:
        daemon.kill()
        sys.exit("moed did not answer status at start")
    print(f"soak: moed pid {pid}, {args.clients} clients, tiers {tiers}, {args.minutes} min", flush=True)

    stop = threading.Event()
    samples = []  # (seconds, rss KiB)
    started = time.monotonic()
    admin = {"conn": None, "switch": 0}

    def admin_call(name, **request):
        if admin["conn"] is None:
            try:
                admin["conn"] = Connection(pb, args.socket, timeout=60)
            except OSError as error:
                tally.count(name, "CONNECT_FAILED", str(error))
                return
        if admin["conn"].call(name, tally, **request) == "CONNECTION_LOST":
            admin["conn"].close()
            admin["conn"] = None

    admin_lock = threading.Lock()

    def switch():
        with admin_lock:
            admin["switch"] += 1
            admin_call("use", use=pb.UseRequest(tier=tiers[admin["switch"] % len(tiers)]))

    def reload():
        with admin_lock:
            admin_call("reload", reload=pb.ReloadRequest())

    def sample():
        samples.append((time.monotonic() - started, rss_kib(daemon.pid)))

    threads = [threading.Thread(target=client, args=(pb, args, tally, stop, n), daemon=True) for n in range(args.clients)]
    threads += [threading.Thread(target=every, args=(args.switch_seconds, stop, switch), daemon=True),
                threading.Thread(target=every, args=(args.reload_seconds, stop, reload), daemon=True),
                threading.Thread(target=every, args=(1, stop, sample), daemon=True)]
    for t in threads:
        t.start()
    deadline = started + args.minutes * 60
    next_note = started + 30
    while time.monotonic() < deadline and daemon.poll() is None:
        time.sleep(1)
        elapsed = time.monotonic() - started
        if time.monotonic() >= next_note and samples:
            next_note += 30
            done = sum(n for (call, code), n in tally.codes.items() if call in ("generate", "chat"))
            print(f"soak: {elapsed:4.0f} s, {done} streams done, RSS {samples[-1][1] / 1024:.0f} MiB", flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=150)
    return report(args, pb, tally, daemon, pid, samples, started)


def report(args, pb, tally, daemon, pid, samples, started):
    problems = []
    alive = daemon.poll() is None
    if not alive:
        problems.append(f"moed exited during the soak ({daemon.returncode})")
    else:
        try:
            c = Connection(pb, args.socket, timeout=10)
            c.send(status=pb.StatusRequest())
            now_pid = c.receive().status.pid
            c.close()
            if now_pid != pid:
                problems.append(f"pid changed: {pid} -> {now_pid}")
        except (OSError, ConnectionError) as error:
            problems.append(f"moed does not answer status at the end: {error}")
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            problems.append("moed did not exit within 60 s of SIGTERM")
            daemon.kill()
    print(f"soak: {time.monotonic() - started:.0f} s, pid {pid} {'unchanged' if alive else 'GONE'}")
    for (call, code), n in sorted(tally.codes.items()):
        print(f"  {call:9} {code:20} {n}")
    print(f"  clients hung up mid-stream: {tally.killed}")
    rss = [(t, kib) for t, kib in samples if kib is not None]
    if rss:
        warm = [kib for t, kib in rss if t >= args.minutes * 60 * args.warmup_fraction] or [rss[-1][1]]
        first, last, peak = warm[0], rss[-1][1], max(kib for _, kib in rss)
        growth = (last - first) / first if first else 0
        step = max(1, len(rss) // 12)
        series = ", ".join(f"{t:.0f}s {kib / 1024:.0f}" for t, kib in rss[::step])
        print(f"  RSS MiB over time: {series}")
        print(f"  RSS after warm-up {first / 1024:.0f} MiB, at end {last / 1024:.0f} MiB ({growth:+.1%}), peak {peak / 1024:.0f} MiB")
        if growth > args.rss_growth:
            problems.append(f"RSS grew {growth:.1%} after warm-up (limit {args.rss_growth:.0%})")
    if tally.failures:
        problems.append(f"{len(tally.failures)} failed calls; first: " + "; ".join(tally.failures[:5]))
    # A soak in which nothing ran has checked nothing: a client thread that
    # died on an exception counts no failure, so its absence must.
    for call in ("generate", "chat", "use"):
        if tally.codes[(call, "OK")] == 0:
            problems.append(f"no {call} call succeeded: the soak exercised nothing")
    if not rss:
        problems.append("moed's RSS could not be read")
    for problem in problems:
        print(f"  FAILURE: {problem}")
    print("soak: " + ("FAILED" if problems else "passed"), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
