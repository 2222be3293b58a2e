"""Turns the JSON lines bench/run.sh collected into a Markdown table of
medians and ratios (moed ÷ llama.cpp) and one JSON document.

    python report.py RESULTS.jsonl BANDWIDTH.json BYTES.json ENV.json OUT.json [SERVICE.jsonl]
"""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def load_lines(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def key(r: dict) -> tuple:
    return (r["label"], r["figure"], r.get("size", 0), r["threads"])


def dense_twin(label: str) -> str | None:
    """The dense file whose weights read per token match an MoE file's active ones."""
    if label == "moe_8x2":
        return "q4_1"  # SmolLM2 upcycled: its active part is the dense file's (plus the router)
    if label.startswith(("moe8x2-", "moe64x8-")):
        return "0.3b-" + label.split("-", 1)[1]
    return None


def paired_dense_ratios(row: dict, runs: list[dict], twin_runs: list[dict], model_bytes: dict) -> list[float]:
    """Per repeat: the MoE file's effective bandwidth (active bytes × tokens/s)
    over its dense twin's, decoded by moed just after it (bench/run.sh)."""
    twin = dense_twin(row["model"])
    if row["figure"] != "decode" or not twin or row["model"] not in model_bytes or twin not in model_bytes:
        return []
    ratios = []
    for t in twin_runs:
        if t["twin_of"] != row["model"] or t["threads"] != row["threads"] or t["label"] != twin:
            continue
        moe = next((r for r in runs if r["engine"] == "moed" and r["label"] == row["model"] and r["figure"] == "decode"
                    and r["threads"] == row["threads"] and r.get("repeat") == t.get("repeat")), None)
        if moe:
            # at one thread by CPU time when both have it (a loaded machine's wall clock swings)
            field = "cpu_tokens_per_second" if row["threads"] == 1 and moe.get("cpu_tokens_per_second") \
                and t.get("cpu_tokens_per_second") else "tokens_per_second"
            ratios.append(moe[field] * model_bytes[row["model"]]["active_bytes"]
                          / (t[field] * model_bytes[twin]["active_bytes"]))
    return ratios


def print_models(model_bytes: dict) -> None:
    print("| model | file | MiB | active MiB per token | active bytes by type |")
    print("|---|---|--:|--:|---|")
    for label in sorted(model_bytes):
        m = model_bytes[label]
        total = sum(m.get("active_bytes_by_type", {}).values()) or 1
        mix = ", ".join(f"{t} {b / total:.0%}" for t, b in m.get("active_bytes_by_type", {}).items() if b / total >= 0.005)
        experts = f" ({m['experts_used']} of {m['experts']} experts)" if m.get("experts") else ""
        print(f"| {label} | {m['file'].rsplit('/', 1)[-1]} | {m['total_bytes'] / 2**20:.0f} | "
              f"{m['active_bytes'] / 2**20:.0f}{experts} | {mix} |")


def print_times(rows: list[dict]) -> None:
    timed = [r for r in rows if r.get("seconds_per_pair")]
    if not timed:
        return
    print("| figure | model | size | threads | seconds per repeat (both engines, load included) |")
    print("|---|---|--:|--:|--:|")
    for r in timed:
        print(f"| {r['figure']} | {r['model']} | {r['size'] or ''} | {r['threads']} | {r['seconds_per_pair']:.0f} |")
    total = sum(r["seconds_all_repeats"] for r in timed)
    print(f"| all | | | | {total / 60:.1f} min in all repeats |")


def print_targets(rows: list[dict]) -> None:
    """The issue's per-file targets, one line per file measured (blank: not measured)."""
    def cell(model, figure, threads, field, spec, size=None):
        r = next((r for r in rows if r["model"] == model and r["figure"] == figure and r["threads"] == threads
                  and (size is None or r["size"] == size)), None)
        v = r.get(field) if r else None
        return "" if v is None else format(v, spec)
    models = sorted({r["model"] for r in rows if r["figure"] in ("decode", "prompt")})
    print("| file | decode ×llama.cpp 1 t | 2 t | decode bound 1 t | prompt 512 ×llama.cpp 1 t | 2 t "
          "| MoE bandwidth ×dense 1 t | 2 t |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    print("| target | ≥ 1.0 | ≥ 1.0 | ≥ 80 % (Q4_K_M) | ≥ 1.5 | ≥ 1.5 | ≥ 0.9 | ≥ 0.9 |")
    for m in models:
        print(f"| {m} | {cell(m, 'decode', 1, 'ratio', '.2f')} | {cell(m, 'decode', 2, 'ratio', '.2f')} "
              f"| {cell(m, 'decode', 1, 'moed_bound_fraction', '.0%')} "
              f"| {cell(m, 'prompt', 1, 'ratio', '.2f', 512)} | {cell(m, 'prompt', 2, 'ratio', '.2f', 512)} "
              f"| {cell(m, 'decode', 1, 'moed_vs_dense_bandwidth', '.2f')} "
              f"| {cell(m, 'decode', 2, 'moed_vs_dense_bandwidth', '.2f')} |")


def main() -> None:
    results, bw_path, bytes_path, env_path, out_path = sys.argv[1:6]
    runs = load_lines(results)
    bandwidth = json.load(open(bw_path))
    model_bytes = {m["label"]: m for m in load_lines(bytes_path)}
    env = json.load(open(env_path))
    samples: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    same_run = defaultdict(list)  # moebench streams: four streams ÷ one, timed step by step in one process
    walls: dict[tuple, list[float]] = defaultdict(list)  # seconds per run, both engines, load included
    isas: dict[tuple, set] = defaultdict(set)
    twin_runs = [r for r in runs if r.get("twin_of")]  # dense twins decoded beside an MoE file
    runs = [r for r in runs if not r.get("twin_of")]
    cpu_samples: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    # decode runs against the probe taken just before their pair (run.sh probe_beside)
    probed: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        probe = r.get("probe")
        if r["figure"] == "decode" and probe and r["label"] in model_bytes:
            gbps = probe.get(f"gbps_{r['threads']}_thread" + ("s" if r["threads"] > 1 else ""))
            if gbps:
                probed[key(r)][r["engine"]].append(
                    r["tokens_per_second"] * model_bytes[r["label"]]["active_bytes"] / (gbps * 1e9))
    for r in runs:
        samples[key(r)][r["engine"]].append(r["tokens_per_second"])
        if r.get("cpu_tokens_per_second") and r["threads"] == 1:
            cpu_samples[key(r)][r["engine"]].append(r["cpu_tokens_per_second"])
        if "wall_seconds" in r:
            walls[key(r)].append(r["wall_seconds"])
        if r["engine"] == "moed" and r.get("isa"):
            isas[key(r)].add(r["isa"])
        if r["engine"] == "moed" and "vs_single" in r:
            same_run[key(r)].append(r["vs_single"])

    rows = []
    for k in sorted(samples, key=lambda k: (k[1], k[0], k[2], k[3])):
        label, figure, size, threads = k
        med = {e: statistics.median(v) for e, v in samples[k].items()}
        row = {"model": label, "figure": figure, "size": size, "threads": threads,
               "moed": med.get("moed"), "llama.cpp": med.get("llama.cpp"),
               "runs": {e: len(v) for e, v in samples[k].items()}}
        if row["moed"] and row["llama.cpp"]:
            row["ratio"] = row["moed"] / row["llama.cpp"]
        cpu = {e: statistics.median(v) for e, v in cpu_samples[k].items()}
        if cpu.get("moed") and cpu.get("llama.cpp"):
            # one thread: steps per CPU second, what a step costs whatever else held the core
            row["cpu_ratio"] = cpu["moed"] / cpu["llama.cpp"]
        if same_run[k]:
            row["moed_vs_one_stream_same_run"] = statistics.median(same_run[k])
        row["moed_isa"] = "/".join(sorted(isas[k])) or None
        if walls[k]:
            row["seconds_per_pair"] = 2 * statistics.median(walls[k])
            row["seconds_all_repeats"] = sum(walls[k])
        if figure == "decode" and label in model_bytes:
            bound = bandwidth[f"gbps_{threads}_thread" + ("s" if threads > 1 else "")] * 1e9
            per_token = model_bytes[label]["active_bytes"]
            for e in ("moed", "llama.cpp"):
                if row[e]:
                    # the median of each run against its own probe; the start's probe for older runs
                    fractions = probed[k].get(e)
                    row[f"{e}_bound_fraction"] = statistics.median(fractions) if fractions else row[e] * per_token / bound
                    row[f"{e}_bound_probes"] = "beside each run" if fractions else "at the start"
                    row[f"{e}_effective_gbps"] = row[e] * per_token / 1e9
        rows.append(row)

    # Four streams against one: the same engine's single-stream decode.
    for row in rows:
        if row["figure"] != "streams":
            continue
        single = next((r for r in rows if r["figure"] == "decode" and r["model"] == row["model"]
                       and r["threads"] == row["threads"]), None)
        if single and single["moed"] and row["moed"]:
            row["moed_vs_one_stream"] = row["moed"] / single["moed"]
        if single and single["llama.cpp"] and row["llama.cpp"]:
            row["llama.cpp_vs_one_stream"] = row["llama.cpp"] / single["llama.cpp"]

    # MoE against the dense file of its active size: effective bandwidth (active bytes × tokens/s).
    for row in rows:
        twin = dense_twin(row["model"])
        dense = next((r for r in rows if twin and r["figure"] == "decode" and row["figure"] == "decode"
                      and r["model"] == twin and r["threads"] == row["threads"]), None)
        for e in ("moed", "llama.cpp"):
            if dense and row.get(f"{e}_effective_gbps") and dense.get(f"{e}_effective_gbps"):
                row[f"{e}_vs_dense_bandwidth"] = row[f"{e}_effective_gbps"] / dense[f"{e}_effective_gbps"]
                row["dense_twin"] = twin

    # moed's MoE against the twin decoded right after it, repeat by repeat:
    # one machine state per ratio, then the median (replaces the figure above).
    for row in rows:
        ratios = paired_dense_ratios(row, runs, twin_runs, model_bytes)
        if ratios:
            row["moed_vs_dense_bandwidth"] = statistics.median(ratios)
            row["moed_vs_dense_bandwidth_runs"] = [round(x, 3) for x in ratios]
            row["dense_twin"] = dense_twin(row["model"])

    service_runs = load_lines(sys.argv[6]) if len(sys.argv) > 6 else []
    service = {}
    for k in sorted({k for r in service_runs for k in r if isinstance(r[k], (int, float))}):
        values = [r[k] for r in service_runs if k in r]
        service[k] = statistics.median(values)
    if service.get("in_process_tokens_per_second") and "daemon_vs_in_process" not in service:
        service["daemon_vs_in_process"] = service.get("daemon_tokens_per_second", 0) / service["in_process_tokens_per_second"]

    doc = {"environment": env, "bandwidth": bandwidth, "model_bytes": list(model_bytes.values()), "rows": rows,
           "service": service}
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)

    def fmt(v, spec=".1f"):
        return "—" if v is None else format(v, spec)

    print(f"CPU: {env.get('cpu')}; flags of interest: {env.get('flags')}")
    cap = f" (capped by MOED_KERNEL_ISA={env['moed_isa_cap']})" if env.get("moed_isa_cap") else ""
    print(f"Kernel level: moed {env.get('moed_isa', '?')}{cap}; llama.cpp built with {env.get('llama_isa', '?')}")
    print(f"Load average at start/end: {env.get('load_start')} / {env.get('load_end')}")
    print(f"Read bandwidth: {bandwidth['gbps_1_thread']} GB/s (1 thread), {bandwidth['gbps_2_threads']} GB/s (2 threads)")
    print()
    print_models(model_bytes)
    print()
    print("| figure | model | size | threads | moed ISA | moed tok/s | llama.cpp tok/s | ratio | moed bound | llama.cpp bound | notes |")
    print("|---|---|--:|--:|---|--:|--:|--:|--:|--:|---|")
    for r in rows:
        notes = ""
        if "moed_vs_one_stream" in r:
            notes = f"aggregate vs 1 stream: moed {r['moed_vs_one_stream']:.2f}×"
            if "moed_vs_one_stream_same_run" in r:
                notes += f" ({r['moed_vs_one_stream_same_run']:.2f}× same run)"
            if "llama.cpp_vs_one_stream" in r:
                notes += f", llama.cpp {r['llama.cpp_vs_one_stream']:.2f}×"
        if "moed_effective_gbps" in r:
            notes = f"moed {r['moed_effective_gbps']:.1f} GB/s effective"
        if "moed_vs_dense_bandwidth" in r:
            notes += f"; vs dense {r['dense_twin']}: moed {r['moed_vs_dense_bandwidth']:.2f}×"
            if "moed_vs_dense_bandwidth_runs" in r:
                notes += " (twin beside it: " + ", ".join(f"{x:.2f}" for x in r["moed_vs_dense_bandwidth_runs"]) + ")"
            if "llama.cpp_vs_dense_bandwidth" in r:
                notes += f", llama.cpp {r['llama.cpp_vs_dense_bandwidth']:.2f}×"
        if "cpu_ratio" in r:
            notes += f"; ×llama.cpp by CPU time {r['cpu_ratio']:.2f}"
        bound = lambda e: fmt(r.get(f"{e}_bound_fraction"), ".0%") if r.get(f"{e}_bound_fraction") else "—"
        print(f"| {r['figure']} | {r['model']} | {r['size'] or ''} | {r['threads']} | {r.get('moed_isa') or '—'} | {fmt(r['moed'])} | "
              f"{fmt(r['llama.cpp'])} | {fmt(r.get('ratio'), '.2f')} | {bound('moed')} | {bound('llama.cpp')} | {notes} |")
    if service:
        print()
        print("| service figure (median) | value |")
        print("|---|--:|")
        for k, v in service.items():
            print(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    print()
    print_targets(rows)
    print()
    print_times(rows)
    print()
    print(f"JSON: {out_path}")


if __name__ == "__main__":
    main()
