#!/usr/bin/env python3
"""Turn bench/run.sh's raw.jsonl into results.json, results.md and SVG plots.

Every Fabriq number is put next to the bound measured in the same run:
IOPS against the raw-TCP bound's ops/s at 128 outstanding (QD32/QD128 goals),
QD1 p50 latency against the bound's p50 round trip (polling against the
busy-polling bound, sleeping against the blocking bound).
"""
import json
import sys
from pathlib import Path


def median_rounds(rows, key):
    """One row per case: the round with the median IOPS (the lower middle one
    for an even count), so that its latencies come from the same run, plus
    the number of rounds and the lowest and highest IOPS among them."""
    groups = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = []
    for g in groups.values():
        by_iops = sorted(g, key=lambda r: r["iops"])
        row = dict(by_iops[(len(by_iops) - 1) // 2])
        row["rounds"] = len(g)
        row["iops_min"], row["iops_max"] = by_iops[0]["iops"], by_iops[-1]["iops"]
        out.append(row)
    return out


def load(path):
    rows = [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    bound = median_rounds([r for r in rows if r["kind"] == "bound"],
                          lambda b: (b["name"], b["qd"], b["poll"], b.get("mem")))
    perf = median_rounds([r for r in rows if r["kind"] == "perf"],
                         lambda p: (p["workload"], p["io_size"], p["qd"], p["poll"],
                                    p["digest"], p.get("ns")))
    idle = next((r for r in rows if r["kind"] == "idle"), None)
    alloc = [r for r in rows if r["kind"] == "alloc"]
    crc = next((r for r in rows if r["kind"] == "crc"), None)
    return machine, bound, perf, idle, alloc, crc


def bound_of(bound, name, qd, poll, mem=None):
    for b in bound:
        if b["name"] == name and b["qd"] == qd and b["poll"] == poll and b.get("mem") == mem:
            return b
    return None


def msg_name(p):
    kind = "read" if "read" in p["workload"] else "write"
    return kind + ("4k" if p["io_size"] == 4096 else "128k")


def analyse(bound, perf, idle):
    out, goals = [], []
    for p in perf:
        name = msg_name(p)
        ref_qd = 128 if p["io_size"] == 4096 else 32
        b_top = bound_of(bound, name, ref_qd, p["poll"])
        b_same = bound_of(bound, name, p["qd"], p["poll"])
        row = dict(p)
        row["bound_iops_ref"] = b_top["iops"] if b_top else None
        row["bound_ref_qd"] = ref_qd
        row["iops_ratio"] = p["iops"] / b_top["iops"] if b_top else None
        b_mem = bound_of(bound, name, 128, p["poll"], p.get("ns", "1G"))
        row["bound_mem_iops"] = b_mem["iops"] if b_mem else None
        row["iops_ratio_mem"] = p["iops"] / b_mem["iops"] if b_mem else None
        row["bound_p50_same_qd"] = b_same["p50_us"] if b_same else None
        row["p50_ratio"] = p["p50_us"] / b_same["p50_us"] if b_same else None
        out.append(row)
        mode = "polling" if p["poll"] else "sleeping"
        dg = "digests on" if p["digest"] else "digests off"
        label = f"4K {p['workload']} QD{p['qd']} {mode}, {dg}"
        if not p.get("main", True):
            continue  # the cache-resident series explains, the goals use the main one
        if p["io_size"] == 4096 and p["qd"] in (32, 128) and not p["digest"] and row["iops_ratio"]:
            goals.append({"goal": f"{label}: IOPS >= 85% of bound ops/s at 128 outstanding",
                          "value": row["iops_ratio"], "limit": 0.85,
                          "pass": row["iops_ratio"] >= 0.85})
        if p["io_size"] == 4096 and p["qd"] == 1 and not p["digest"] and row["p50_ratio"]:
            goals.append({"goal": f"{label}: p50 <= 1.15x bound round trip "
                                  f"({'busy-polling' if p['poll'] else 'blocking'} bound)",
                          "value": row["p50_ratio"], "limit": 1.15,
                          "pass": row["p50_ratio"] <= 1.15})
    for p in out:
        if p["digest"] or p["qd"] != 32 or p["io_size"] != 4096 or not p.get("main", True):
            continue
        on = next((q for q in out if q["digest"] and q["workload"] == p["workload"]
                   and q["qd"] == 32 and q["io_size"] == 4096 and q["poll"] == p["poll"]), None)
        if on:
            cost = 1 - on["iops"] / p["iops"]
            goals.append({"goal": f"digest cost, 4K {p['workload']} QD32 "
                                  f"{'polling' if p['poll'] else 'sleeping'}: <= 10% IOPS",
                          "value": cost, "limit": 0.10, "pass": cost <= 0.10})
    if idle:
        goals.append({"goal": "target idle CPU with a connected host, polling off: < 1%",
                      "value": idle["target_cpu_pct"] / 100, "limit": 0.01,
                      "pass": idle["target_cpu_pct"] < 1.0})
    return out, goals


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def spread(r):
    return f"{r['iops_min'] / 1000:.0f}k–{r['iops_max'] / 1000:.0f}k"


def markdown(machine, bound, rows, goals, idle):
    rounds = max([r.get("rounds", 1) for r in bound + rows] or [1])
    many = rounds > 1
    md = ["# Benchmark results", "",
          f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['mem_gib']} GiB, "
          f"kernel {machine['kernel']}; target on CPU {machine['target_cpu']}, "
          f"load on CPU {machine['load_cpu']}; {machine['seconds']} s per case; "
          f"commit {machine['commit']}.", ""]
    if many:
        md += [f"Every case ran in {rounds} rounds (bound, then Fabriq, in turn). Each row is "
               "the round with the median ops/s, so its latencies come from that same "
               "round; the range column gives the lowest and the highest ops/s.", ""]
    md += ["## Bound (raw TCP, same messages)", "",
           "| messages | server memory | QD | mode | ops/s |" + (" range |" if many else "") +
           " mean us | p50 us | p99 us |",
           "|---|---|---|---|---|" + ("---|" if many else "") + "---|---|---|"]
    for b in bound:
        md.append(f"| {b['name']} ({b['req']}->{b['rsp']} B) | {b.get('mem', '-')} | {b['qd']} | "
                  f"{'poll' if b['poll'] else 'blocking'} | {b['iops']:.0f} | " +
                  (f"{spread(b)} | " if many else "") +
                  f"{b['mean_us']:.2f} | {b['p50_us']:.2f} | {b['p99_us']:.2f} |")
    md += ["", "## fabriq perf against fabriqd (RAM namespace)", "",
           "| case | namespace | mode | digests | IOPS |" + (" range |" if many else "") +
           " MiB/s | p50 us | p99 us | p99.99 us | "
           "IOPS / bound | IOPS / bound with memory | p50 / bound | target CPU % | host CPU % |",
           "|---|---|---|---|---|" + ("---|" if many else "") +
           "---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['workload']} {r['io_size'] // 1024}K QD{r['qd']} | "
                  f"{r.get('ns', '1G')}{'' if r.get('main', True) else ' (cache-resident)'} | "
                  f"{'poll' if r['poll'] else 'sleep'} | {'on' if r['digest'] else 'off'} | "
                  f"{r['iops']:.0f} | " + (f"{spread(r)} | " if many else "") +
                  f"{r['mib_s']:.1f} | {r['p50_us']:.1f} | {r['p99_us']:.1f} | "
                  f"{r['p99_99_us']:.1f} | {fmt(r['iops_ratio'], '.2f')} (QD{r['bound_ref_qd']}) | "
                  f"{fmt(r['iops_ratio_mem'], '.2f')} | "
                  f"{fmt(r['p50_ratio'], '.2f')} | {r['target_cpu_pct']} | "
                  f"{r['host_cpu_pct']:.0f} |")
    md += ["", "## Goals", "", "| goal | measured | limit | met |", "|---|---|---|---|"]
    for g in goals:
        md.append(f"| {g['goal']} | {g['value']:.3f} | {g['limit']} | "
                  f"{'yes' if g['pass'] else '**no**'} |")
    if idle:
        md += ["", f"Idle target CPU (host connected, no I/O, 5 s): {idle['target_cpu_pct']}%"]
    return "\n".join(md) + "\n"


def svg_bars(title, labels, series, unit, path):
    """A grouped horizontal bar chart; series = [(name, colour, values)]."""
    h_bar, gap = 12, 10
    n = len(labels)
    height = 60 + n * (len(series) * h_bar + gap)
    width, left = 900, 260
    vmax = max([v for _, _, vals in series for v in vals if v] + [1])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="10" y="20" font-size="14">{title}</text>']
    y = 40
    for i, lab in enumerate(labels):
        out.append(f'<text x="10" y="{y + h_bar}">{lab}</text>')
        for name, colour, vals in series:
            v = vals[i] or 0
            w = (width - left - 120) * v / vmax
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{h_bar - 2}" '
                       f'fill="{colour}"><title>{name}: {v:.1f} {unit}</title></rect>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + h_bar - 3}">{v:.0f}</text>')
            y += h_bar
        y += gap
    lx = left
    for name, colour, _ in series:
        out.append(f'<rect x="{lx}" y="{height - 15}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{height - 6}">{name}</text>')
        lx += 14 + 8 * len(name) + 20
    out.append("</svg>")
    Path(path).write_text("\n".join(out))


def main():
    raw, outdir = sys.argv[1], Path(sys.argv[2])
    machine, bound, perf, idle, alloc, crc = load(raw)
    rows, goals = analyse(bound, perf, idle)
    if alloc:
        worst = max(a["target_allocs"] + a["host_allocs"] for a in alloc)
        goals.append({"goal": "no allocation on the steady-state I/O path (target and host, "
                              "RAM and file, read and write)",
                      "value": worst, "limit": 0, "pass": worst == 0})
    (outdir / "results.json").write_text(json.dumps(
        {"machine": machine, "bound": bound, "perf": rows, "idle": idle, "alloc": alloc,
         "crc": crc, "goals": goals},
        indent=2))
    md = markdown(machine, bound, rows, goals, idle)
    if alloc:
        md += "\n## Allocations in a 3 s steady-state window\n\n"
        md += "| namespace | workload | target allocs | host allocs |\n|---|---|---|---|\n"
        md += "".join(f"| {a['namespace']} | {a['workload']} | {a['target_allocs']} | "
                      f"{a['host_allocs']} |\n" for a in alloc)
    if crc:
        md += ("\n## Digest compute: CRC32C of one 4 KiB block (ns; fastest / median batch)\n\n"
               "| data | ISA-L crc32_iscsi alone | Fabriq's call for such data | "
               "with the cold-data prefetch |\n|---|---|---|---|\n")
        h = crc["hot_isal_ns"], crc["hot_fabriq_ns"], crc["hot_uncached_ns"]
        c = crc["cold_isal_ns"], crc["cold_fabriq_ns"]
        md += (f"| in L1 cache (host receive) | {h[0][0]:.0f} / {h[0][1]:.0f} | "
               f"{h[1][0]:.0f} / {h[1][1]:.0f} | {h[2][0]:.0f} / {h[2][1]:.0f} |\n")
        md += (f"| random block of {crc['mem_mib']} MiB (target read from RAM) | "
               f"{c[0][0]:.0f} / {c[0][1]:.0f} | {c[1][0]:.0f} / {c[1][1]:.0f} | "
               f"(same) |\n")
    (outdir / "results.md").write_text(md)
    labels = [f"{r['workload']} {r['io_size'] // 1024}K QD{r['qd']} "
              f"{'poll' if r['poll'] else 'sleep'}{' dg' if r['digest'] else ''}"
              f"{'' if r.get('main', True) else ' ns ' + r.get('ns', '')}" for r in rows]
    svg_bars("IOPS: fabriq perf vs fabriqd, and the raw-TCP bound", labels,
             [("fabriq", "#3b7dd8", [r["iops"] for r in rows]),
              ("bound (QD128 / 128K QD32)", "#bbbbbb", [r["bound_iops_ref"] for r in rows]),
              ("bound with memory (QD128)", "#8fbf8f", [r["bound_mem_iops"] for r in rows])],
             "IOPS", outdir / "iops.svg")
    svg_bars("Latency percentiles (us)", labels,
             [("p50", "#3b7dd8", [r["p50_us"] for r in rows]),
              ("p99", "#e8a33d", [r["p99_us"] for r in rows]),
              ("p99.9", "#d64545", [r["p99_9_us"] for r in rows])],
             "us", outdir / "latency.svg")
    print(md)


if __name__ == "__main__":
    main()
