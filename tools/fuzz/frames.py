"""Frames and requests against a live moed (the socket surface of tools/fuzz/run.sh).

Starts moed on the toy plugin in a scratch folder, then runs seeded cases,
each on a fresh connection: random frames, mutated valid frames (bit flips,
edge bytes, length-prefix rewrites, truncation, splicing, duplication),
valid requests with every field at an extreme, and clients that send and
hang up or never read. After every batch: a burst of connections, then the
daemon must be alive and answer `status`. A dead daemon (crash) or one that
does not answer (hang) saves the batch's inputs under OUT/frames and is
started again. Case N of seed S is the same bytes on every run.

    python frames.py run --moed BIN --plugin-dir DIR [--cases N] [--seed S] [--out DIR]
    python frames.py replay --moed BIN --plugin-dir DIR FILE...
"""
import argparse
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "EndToEndTests", "Python"))
from moed_client import load_messages  # noqa: E402  (one place that compiles the proto)
from frame_cases import make_case, hostile_request, status_frame  # noqa: E402


class Daemon:
    """moed on the toy plugin in a scratch folder."""

    def __init__(self, moed, plugin_dir):
        self.moed, self.plugin_dir = moed, plugin_dir
        self.dir = tempfile.mkdtemp(prefix="moefuzz-frames-")
        self.socket = os.path.join(self.dir, "moed.sock")
        self.log = os.path.join(self.dir, "moed.log")
        toy = os.path.join(self.dir, "toy.txt")
        with open(toy, "w") as f:
            f.write("#toy step_ms=0 eos_after=40\nHello from the toy model. ")
        moe = os.path.join(self.dir, "toy-moe.txt")
        with open(moe, "w") as f:
            f.write("#toy experts=4 eos_after=20\nExperts recite this. ")
        with open(os.path.join(self.dir, "moed.toml"), "w") as f:
            f.write(f'[daemon]\nsocket = "{self.socket}"\nsocket_mode = "0600"\nplugin_dir = "{plugin_dir}"\n'
                    f'memory_budget = "1GiB"\ndefault_tier = "haiku"\nmax_queue = 16\n\n'
                    f'[tiers.haiku]\nplugin = "toy"\nmodel = "{toy}"\n\n'
                    f'[tiers.opus]\nplugin = "toy"\nmodel = "{moe}"\nkeep_alive = "1h"\n')
        self.process = None

    def start(self):
        log = open(self.log, "ab")
        self.process = subprocess.Popen([self.moed, "--config", os.path.join(self.dir, "moed.toml")],
                                        stdout=log, stderr=log)
        for _ in range(200):
            if self.alive() and os.path.exists(self.socket) and status_ok(self.socket, 1.0):
                return
            time.sleep(0.05)
        raise SystemExit(f"moed did not start; log:\n{self.log_tail()}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def death(self):
        code = self.process.poll()
        if code is None:
            return None
        return f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit status {code}"

    def log_tail(self, lines=60):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def status_ok(path, timeout):
    """Whether moed answers a status request within `timeout` seconds."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(STATUS_FRAME)
            head = b""
            while len(head) < 4:
                chunk = s.recv(4 - len(head))
                if not chunk:
                    return False
                head += chunk
            return struct.unpack(">I", head)[0] > 0
    except OSError:
        return False


def rss_kib(pid):
    """Resident size of `pid` in KiB, from /proc (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None)
    except OSError:
        return None


# --- running ----------------------------------------------------------------

def send_case(path, data, reads):
    """Sends one case on a fresh connection; reads replies for a moment if asked."""
    for s in send_window(path, [(data, reads)]):
        s.close()


def send_window(path, cases, first_wait=0.05, idle=0.01, limit=0.2):
    """Sends each case on its own connection, all open at once, then reads
    the replies of those that read until each goes quiet (`idle` seconds
    after its last bytes), closes, or `limit` passes. Errors are fine: moed
    closing a hostile client is a good answer. Cases marked "hold" keep
    their connection open: returned, for the caller to close after it has
    checked that moed still answers others while they run."""
    open_sockets, held = [], []
    for data, reads in cases:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(path)
            s.sendall(data)
        except OSError:
            s.close()
            continue
        if reads == "hold":
            held.append(s)
        elif reads:
            open_sockets.append(s)
        else:
            s.close()
    start = time.monotonic()
    last_data = {s: None for s in open_sockets}
    while open_sockets:
        now = time.monotonic()
        if now - start > limit:
            break
        for s in list(open_sockets):
            quiet_since = last_data[s] if last_data[s] is not None else start
            wait = idle if last_data[s] is not None else first_wait
            if now - quiet_since > wait:
                open_sockets.remove(s)
                s.close()
        if not open_sockets:
            break
        ready, _, _ = select.select(open_sockets, [], [], 0.005)
        for s in ready:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                last_data[s] = time.monotonic()
            else:
                open_sockets.remove(s)
                s.close()
    for s in open_sockets:
        s.close()
    return held


def burst(path, r, count=64):
    """Many connections at once: some ask status and read, some never read, some just go."""
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            if r.random() < 0.8:
                s.send(STATUS_FRAME * r.choice([1, 1, 10]))
        except OSError:
            pass
        sockets.append(s)
    time.sleep(0.05)
    for s in sockets:
        s.close()


def save_batch(out, seed, first, last, cases, why, daemon):
    folder = os.path.join(out, f"{why.split(':')[0]}-seed{seed}-cases{first}-{last}")
    os.makedirs(folder, exist_ok=True)
    for index, (data, _) in cases:
        with open(os.path.join(folder, f"case{index}.bin"), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "README.txt"), "w") as f:
        f.write(f"frames seed {seed}, cases {first}..{last}: {why}\n"
                f"replay: tools/fuzz/run.sh --replay frames {folder}/case*.bin\nmoed log (last lines):\n"
                + daemon.log_tail())
    print(f"frames: cases {first}..{last}: {why}; saved {folder}", flush=True)


def run(args, pb):
    global STATUS_FRAME
    STATUS_FRAME = status_frame(pb)
    seeds = [hostile_request(pb, random.Random(i)) for i in range(32)]
    daemon = Daemon(args.moed, args.plugin_dir)
    daemon.start()
    crashes = hangs = stalls = 0
    slowest = 0.0
    rss_start = rss_peak = rss_kib(daemon.process.pid) or 0
    started = time.monotonic()
    try:
        for first in range(0, args.cases, args.batch):
            last = min(args.cases, first + args.batch) - 1
            cases = [(i, make_case(pb, args.seed, i, seeds)) for i in range(first, last + 1)]
            stalled = False
            for at in range(0, len(cases), args.window):
                if not daemon.alive():
                    break
                held = send_window(daemon.socket, [case for _, case in cases[at:at + args.window]])
                # The loop must stay responsive: a status answer slower than
                # --stall seconds while these cases run is a stall.
                asked = time.monotonic()
                if status_ok(daemon.socket, args.timeout):
                    latency = time.monotonic() - asked
                    slowest = max(slowest, latency)
                    stalled = stalled or latency > args.stall
                for s in held:
                    s.close()
                rss_peak = max(rss_peak, rss_kib(daemon.process.pid) or 0)
            if daemon.alive():
                burst(daemon.socket, random.Random(args.seed * 7 + first))
            why = None
            if stalled and daemon.alive():
                stalls += 1
                save_batch(args.out, args.seed, first, last, cases, f"stall: status took over {args.stall} s", daemon)
            if not daemon.alive():
                crashes += 1
                why = f"crash: moed died ({daemon.death()})"
            elif not status_ok(daemon.socket, args.timeout):
                hangs += 1
                why = f"hang: no status answer in {args.timeout} s"
            if why:
                save_batch(args.out, args.seed, first, last, cases, why, daemon)
                daemon.stop()
                daemon.start()
    finally:
        daemon.remove()
    seconds = time.monotonic() - started
    print(f"frames: {args.cases} cases, {crashes} crashes, {hangs} hangs, {stalls} stalled batches "
          f"(slowest status {slowest:.2f} s), moed RSS {rss_start // 1024} MiB at start, peak {rss_peak // 1024} MiB, "
          f"{seconds:.1f} s, "
          f"{args.cases / max(seconds, 1e-9):.0f} cases/s, seed {args.seed}", flush=True)
    return 1 if crashes or hangs else 0


def replay(args, pb):
    global STATUS_FRAME
    STATUS_FRAME = status_frame(pb)
    daemon = Daemon(args.moed, args.plugin_dir)
    daemon.start()
    try:
        for path in args.files:
            with open(path, "rb") as f:
                send_case(daemon.socket, f.read(), True)
            ok = daemon.alive() and status_ok(daemon.socket, args.timeout)
            print(f"{path}: {'moed alive and answering' if ok else 'moed FAILED: ' + str(daemon.death() or 'no answer')}")
            if not ok:
                print(daemon.log_tail())
                return 1
    finally:
        daemon.remove()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["run", "replay"])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--moed", required=True)
    parser.add_argument("--plugin-dir", required=True)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500, help="cases between liveness checks")
    parser.add_argument("--window", type=int, default=64, help="cases in flight at once, each on its own connection")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds moed has to answer status after a batch")
    parser.add_argument("--stall", type=float, default=1.0,
                        help="a status answer slower than this (between windows) is a stall: reported and saved, "
                             "not a failure")
    parser.add_argument("--out", default="out/fuzz")
    args = parser.parse_intermixed_args()  # files may follow the flags
    args.out = os.path.join(args.out, "frames")
    pb = load_messages(os.path.join(ROOT, "Protos"))
    sys.exit(run(args, pb) if args.mode == "run" else replay(args, pb))


if __name__ == "__main__":
    main()
