"""Blocks benchmark: forward+backward speed and memory of every block across sequence lengths.

Prints Markdown tables and writes docs/blocks-benchmark.md and docs/blocks-scaling.png:
  1. per block and length (d_model 256, batch 1): tokens/s of forward+backward, time, memory
     (peak allocated on CUDA; on CPU the tensors autograd saves for backward);
  2. the growth ratio time(4L)/time(L) (target <= 4.6 for blocks whose class is linear in L);
  3. a compiled spec vs the same model written by hand (target ratio <= 1.03);
  4. the chunked selective scan vs its per-step loop (target >= 10x).
Runs that the cost model predicts over --max-memory-gib, or that the previous length
predicts over --max-seconds, are skipped and listed as such (never silently).

Usage: python bench/blocks.py [--quick] [--device cpu|cuda] [--lengths 1024,4096,16384]
       [--blocks mamba,mlp] [--max-seconds S] [--max-memory-gib G] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from blocks.compiler import compile_spec  # noqa: E402
from blocks.registry import all_blocks  # noqa: E402
from blocks.spec import complexity_rank  # noqa: E402

D_MODEL = 256
DEFAULT_LENGTHS = (1024, 4096, 16384)
LINEAR_GROWTH_TARGET = 4.6
OVERHEAD_TARGET = 1.03
SCAN_SPEEDUP_TARGET = 10.0
# glibc hands buffers above its mmap threshold back to the OS on free and page-faults them in
# afresh on the next allocation; at L=16384 that adds 10-35% to a step, which would show up as
# growth that is not the block's. The benchmark keeps freed memory for reuse instead (as a
# caching allocator does), so the ratios measure the algorithms. Read by glibc at start-up.
REUSE_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 32),
                    "MALLOC_TOP_PAD_": str(1 << 30)}
MD_PATH = ROOT / "docs" / "blocks-benchmark.md"
PNG_PATH = ROOT / "docs" / "blocks-scaling.png"


@dataclass
class Measurement:
    block: str
    length: int
    seconds: float | None = None  # fastest forward+backward time
    memory_bytes: float | None = None
    skipped: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        return self.length / self.seconds if self.seconds else None


@dataclass
class Report:
    device: str
    lengths: list[int]
    rows: list[Measurement] = field(default_factory=list)
    complexity: dict[str, str] = field(default_factory=dict)
    overhead: dict | None = None
    scan: dict | None = None
    notes: list[str] = field(default_factory=list)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clock_for(device: torch.device):
    """CPU time of this process on CPU (other load on a shared machine does not inflate it, and with
    one torch thread it is the compute time); wall time on an accelerator."""
    return time.process_time if device.type == "cpu" else time.perf_counter


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn, device, *, min_runs=3, min_seconds=1.0, max_runs=30) -> float:
    """Fastest seconds of fn() after one warm-up run.

    On a shared machine other tenants only ever add time (cache and memory-bandwidth theft even
    shows in CPU time), so the fastest run is the steadiest estimate of the block's own cost:
    medians at L=1024 moved by 30% between runs here, enough to flip growth ratios.
    """
    clock = clock_for(device)
    fn()
    synchronize(device)
    times = []
    started = clock()
    while len(times) < max_runs and (len(times) < min_runs or clock() - started < min_seconds):
        t0 = clock()
        fn()
        synchronize(device)
        times.append(clock() - t0)
    return min(times)


def saved_tensor_bytes(fn) -> float:
    """Bytes of the distinct tensors autograd saves for backward during fn() (a CPU memory proxy)."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return float(sum(storages.values()))


def forward_backward(module: nn.Module, x: torch.Tensor):
    def run():
        module.zero_grad(set_to_none=True)
        out = module(x)
        out.float().square().mean().backward()
        return out
    return run


def bench_block(entry, length: int, device, args) -> tuple[Measurement, Callable[[], object] | None]:
    """The block at one length: its measurement, and the forward+backward to time it again."""
    params = entry.defaults()
    cost = entry.cost(D_MODEL, length, params)
    if cost.activation_bytes > args.max_memory_gib * 2**30:
        return Measurement(entry.name, length, skipped=f"cost model: {cost.activation_bytes / 2**30:.1f} GiB "
                           f"of activations > {args.max_memory_gib:g} GiB budget"), None
    problems = list(entry.check(D_MODEL, length, params)) if entry.check else []
    if problems:
        return Measurement(entry.name, length, skipped="defaults invalid at this length: "
                           + "; ".join(f"{f}: {m}" for f, m in problems)), None
    torch.manual_seed(0)
    block = entry.build(d_model=D_MODEL, max_seq_len=length, layer_idx=0, seed=0, **params).to(device)
    x = torch.randn(1, length, D_MODEL, device=device, requires_grad=True)
    run = forward_backward(block, x)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        seconds = time_call(run, device)
        memory = float(torch.cuda.max_memory_allocated(device))
    else:
        seconds = time_call(run, device, min_runs=args.min_runs)
        memory = saved_tensor_bytes(lambda: block(x))
    return Measurement(entry.name, length, seconds, memory), run


def time_interleaved(timed: list[tuple[Measurement, Callable[[], object]]], device, *, min_rounds=3,
                     min_seconds=4.0, max_rounds=20) -> None:
    """Time every length of one block again in turns, keeping each length's fastest run.

    Contention on a shared machine comes in spells of seconds; timing the lengths one after the
    other let a spell land on one length only and swing time(4L)/time(L) by 15%. In turns,
    every length meets the same spell, so the ratios hold steady.
    """
    clock = clock_for(device)
    started = clock()
    for round_ in range(max_rounds):
        if round_ >= min_rounds and clock() - started >= min_seconds:
            break
        for measurement, run in timed:
            t0 = clock()
            run()
            synchronize(device)
            measurement.seconds = min(measurement.seconds, clock() - t0)


def bench_blocks(report: Report, entries, device, args) -> None:
    for entry in entries:
        report.complexity[entry.name] = entry.complexity
        rank = complexity_rank(entry.complexity)
        previous: Measurement | None = None
        timed: list[tuple[Measurement, Callable[[], object]]] = []
        for length in report.lengths:
            if previous is not None and previous.seconds is None:
                report.rows.append(Measurement(entry.name, length, skipped="a shorter length was skipped"))
                continue
            if previous is not None:
                # Predict from the class: linear x(L'/L), L log L a bit more, quadratic x(L'/L)^2.
                ratio = length / previous.length
                growth = {0: 1.0, 1: ratio, 2: ratio * 1.2, 3: ratio**1.5}.get(rank, ratio**2)
                predicted = previous.seconds * growth
                if predicted > args.max_seconds:
                    report.rows.append(Measurement(entry.name, length, skipped=f"predicted {predicted:.1f} s per "
                                                   f"step > {args.max_seconds:g} s budget"))
                    previous = Measurement(entry.name, length)
                    continue
            progress(f"{entry.name} L={length}")
            run = None
            try:
                measurement, run = bench_block(entry, length, device, args)
            except torch.OutOfMemoryError:
                measurement = Measurement(entry.name, length, skipped="out of memory")
            except RuntimeError as exc:  # e.g. a CPU allocation failure: record it, keep going
                measurement = Measurement(entry.name, length, skipped=f"error: {str(exc).splitlines()[0][:80]}")
            report.rows.append(measurement)
            previous = measurement
            if run is not None:
                timed.append((measurement, run))
        if len(timed) > 1:
            progress(f"{entry.name}: all lengths again, in turns")
            time_interleaved(timed, device)


# ---- compiled spec vs hand-written -------------------------------------------------------------

class HandWritten(nn.Module):
    """The same network as the compiled spec, as one would write it: a loop over pre-norm layers."""

    def __init__(self, embedding: nn.Embedding, layers: list[tuple[nn.Module, nn.Module]], final_norm, lm_head):
        super().__init__()
        self.embedding = embedding
        self.norms = nn.ModuleList(norm for norm, _ in layers)
        self.blocks = nn.ModuleList(block for _, block in layers)
        self.final_norm = final_norm
        self.lm_head = lm_head

    def forward(self, tokens):
        x = self.embedding(tokens)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(norm(x))
        return self.lm_head(self.final_norm(x))


def overhead_spec(names: list[str], layers: int, length: int) -> dict:
    children = [{"id": f"r.{i}", "type": name, "parent": "r"} for i, name in enumerate(names)]
    inner_edges = [[a["id"], b["id"]] for a, b in zip(children, children[1:])]
    return {
        "version": 1,
        "model": {"d_model": D_MODEL, "max_seq_len": length},
        "nodes": [{"id": "in", "type": "input"}, {"id": "r", "type": "repeat", "params": {"times": layers}},
                  *children, {"id": "out", "type": "output"}],
        "edges": [["in", "r"], *inner_edges, ["r", "out"]],
    }


def bench_overhead(report: Report, device, args) -> None:
    available = {b.name for b in all_blocks()}
    names = [n for n in ("softmax_attention", "mlp") if n in available] or \
        [b.name for b in all_blocks() if not b.structural][:2]
    length, layers, vocab = args.overhead_length, 4, 256
    spec = overhead_spec(names, layers, length)
    compiled = compile_spec(spec, vocab_size=vocab).to(device)
    pairs = []
    for layer in compiled.r.layers:
        for name in layer.step_plan:
            wrapped = getattr(layer, name.name)
            pairs.append((wrapped.norm, wrapped.block))
    hand = HandWritten(compiled.n_in.tokens, pairs, compiled.out.norm, compiled.out.lm_head).to(device)
    tokens = torch.randint(0, vocab, (args.overhead_batch, length), device=device)
    with torch.no_grad():
        assert torch.allclose(compiled(tokens), hand(tokens), atol=1e-5), "hand-written model differs"
    progress(f"compiled vs hand-written ({' + '.join(names)} x {layers}, L={length})")

    def step(model):
        def run():
            model.zero_grad(set_to_none=True)
            model(tokens).float().logsumexp(-1).mean().backward()
        return run

    # Interleave the two so machine load hits both alike; compare medians.
    compiled_times, hand_times = [], []
    step(compiled)(), step(hand)()
    clock = clock_for(device)
    for _ in range(args.overhead_rounds):
        for model, sink in ((compiled, compiled_times), (hand, hand_times)):
            synchronize(device)
            t0 = clock()
            step(model)()
            synchronize(device)
            sink.append(clock() - t0)
    ratio = statistics.median(compiled_times) / statistics.median(hand_times)
    report.overhead = {"blocks": names, "layers": layers, "length": length, "batch": args.overhead_batch,
                       "compiled_ms": 1e3 * statistics.median(compiled_times),
                       "hand_ms": 1e3 * statistics.median(hand_times), "ratio": ratio}


# ---- selective scan ------------------------------------------------------------------------------

def bench_scan(report: Report, device, args) -> None:
    try:
        from blocks.ops.selective_scan import selective_scan, selective_scan_ref
    except ImportError as exc:
        report.notes.append(f"selective scan not benchmarked: {exc}")
        return
    gen = torch.Generator().manual_seed(0)
    channels, state, length = 2 * D_MODEL, 16, args.scan_length
    u = torch.randn(1, channels, length, generator=gen).to(device)
    delta = (torch.rand(1, channels, length, generator=gen) * 0.1).to(device)
    A = -torch.rand(channels, state, generator=gen).to(device)
    B = torch.randn(1, state, length, generator=gen).to(device)
    C = torch.randn(1, state, length, generator=gen).to(device)
    D = torch.randn(channels, generator=gen).to(device)
    progress(f"selective scan chunked vs loop (channels {channels}, state {state}, L={length})")
    with torch.no_grad():
        fast = selective_scan(u, delta, A, B, C, D)
        slow = selective_scan_ref(u, delta, A, B, C, D)
        error = (fast - slow).abs().max().item()
        fast_s = time_call(lambda: selective_scan(u, delta, A, B, C, D), device)
        loop_s = time_call(lambda: selective_scan_ref(u, delta, A, B, C, D), device, min_runs=1, max_runs=3)
    # Training needs the backward too, where the loop's thousands of small autograd nodes cost most.
    inputs = [t.clone().requires_grad_(True) for t in (u, delta, B, C)]

    def train_step(scan):
        def run():
            for t in inputs:
                t.grad = None
            scan(inputs[0], inputs[1], A, inputs[2], inputs[3], D).square().mean().backward()
        return run

    fast_bw = time_call(train_step(selective_scan), device)
    loop_bw = time_call(train_step(selective_scan_ref), device, min_runs=1, max_runs=3)
    report.scan = {"channels": channels, "state": state, "length": length, "chunked_ms": 1e3 * fast_s,
                   "loop_ms": 1e3 * loop_s, "speedup": loop_s / fast_s, "max_abs_diff": error,
                   "chunked_train_ms": 1e3 * fast_bw, "loop_train_ms": 1e3 * loop_bw,
                   "train_speedup": loop_bw / fast_bw}


# ---- output --------------------------------------------------------------------------------------

def fmt_tokens(value) -> str:
    if value is None:
        return "—"
    return f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}"


def growth_ratios(report: Report) -> dict[str, list[tuple[int, float]]]:
    by_block: dict[str, dict[int, Measurement]] = {}
    for row in report.rows:
        by_block.setdefault(row.block, {})[row.length] = row
    out = {}
    for block, rows in by_block.items():
        ratios = []
        for length, row in rows.items():
            bigger = rows.get(4 * length)
            if row.seconds and bigger is not None and bigger.seconds:
                ratios.append((length, bigger.seconds / row.seconds))
        out[block] = ratios
    return out


def markdown(report: Report, args) -> str:
    lengths = report.lengths
    lines = [
        "# Blocks benchmark",
        "",
        f"Generated by `python bench/blocks.py {' '.join(args.argv)}`".rstrip() + f" on {report.device}, "
        f"d_model {D_MODEL}, batch 1, float32, {torch.get_num_threads()} thread(s), torch {torch.__version__}. "
        "Forward + backward of the block alone (no embedding or head), fastest of several runs (at least 1 s "
        "of them, then at least 3 more rounds taking every length in turn); "
        + ("times are CPU time of the process, so other load on a shared machine does not inflate them."
           if report.device == "cpu" else "times are wall-clock."),
        "Memory: " + ("peak allocated (CUDA)." if report.device.startswith("cuda") else
                      "tensors autograd saves for backward (CPU has no allocator statistics; linear "
                      "operations such as an FFT save nothing). glibc malloc keeps freed buffers for "
                      "reuse (" + ", ".join(f"{k}={v}" for k, v in REUSE_MEMORY_ENV.items()) + "), so "
                      "page faults of large buffers do not pose as growth in L."),
        "",
        "## Throughput and memory",
        "",
        "| block | class | " + " | ".join(f"tok/s L={n}" for n in lengths) + " | "
        + " | ".join(f"MiB L={n}" for n in lengths) + " |",
        "|---|---|" + "---:|" * (2 * len(lengths)),
    ]
    by_key = {(r.block, r.length): r for r in report.rows}
    skipped = []
    for block in report.complexity:
        cells = [fmt_tokens(by_key.get((block, n)).tokens_per_s) if (block, n) in by_key else "—" for n in lengths]
        mems = []
        for n in lengths:
            row = by_key.get((block, n))
            mems.append(f"{row.memory_bytes / 2**20:.1f}" if row and row.memory_bytes is not None else "—")
            if row and row.skipped:
                skipped.append(f"- {block} at L={n}: {row.skipped}")
        lines.append(f"| {block} | {report.complexity[block]} | " + " | ".join(cells) + " | " + " | ".join(mems) + " |")
    lines += ["", "## Growth: time(4L) / time(L)", "",
              f"Target for blocks linear in L (class O(L), O(L·w), ...): <= {LINEAR_GROWTH_TARGET}.", "",
              "| block | class | ratios | linear target met |", "|---|---|---|---|"]
    for block, ratios in growth_ratios(report).items():
        linear = complexity_rank(report.complexity[block]) <= 1
        shown = ", ".join(f"{r:.2f} (L={n}→{4 * n})" for n, r in ratios) or "—"
        verdict = ("yes" if all(r <= LINEAR_GROWTH_TARGET for _, r in ratios) else "**no**") if linear and ratios \
            else ("n/a" if not linear else "—")
        lines.append(f"| {block} | {report.complexity[block]} | {shown} | {verdict} |")
    if report.overhead:
        o = report.overhead
        lines += ["", "## Compiled spec vs hand-written", "",
                  f"repeat × {o['layers']} of ({' → '.join(o['blocks'])}), d_model {D_MODEL}, batch {o['batch']}, "
                  f"L={o['length']}, forward + backward, interleaved runs.", "",
                  "| compiled ms | hand-written ms | ratio | target |", "|---:|---:|---:|---:|",
                  f"| {o['compiled_ms']:.1f} | {o['hand_ms']:.1f} | {o['ratio']:.3f} | <= {OVERHEAD_TARGET} |"]
    if report.scan:
        s = report.scan
        lines += ["", "## Selective scan: chunked vs per-step loop", "",
                  f"channels {s['channels']}, state {s['state']}, L={s['length']}, batch 1; target speed-up "
                  f">= {SCAN_SPEEDUP_TARGET:g}×; max abs difference of the outputs {s['max_abs_diff']:.1e}.", "",
                  "| pass | chunked ms | loop ms | speed-up |", "|---|---:|---:|---:|",
                  f"| forward | {s['chunked_ms']:.1f} | {s['loop_ms']:.1f} | {s['speedup']:.1f}× |",
                  f"| forward + backward | {s['chunked_train_ms']:.1f} | {s['loop_train_ms']:.1f} | "
                  f"{s['train_speedup']:.1f}× |"]
    not_run = [n for n in DEFAULT_LENGTHS if n not in lengths]
    if not_run:
        skipped.append(f"- default length(s) {', '.join(f'L={n}' for n in not_run)} not run: this run's lengths "
                       f"were {', '.join(str(n) for n in lengths)}")
    lines += ["", "## Skipped", ""] + (skipped or ["- nothing"]) + [f"- {n}" for n in report.notes]
    lines += ["", "![time vs length per block](blocks-scaling.png)", ""]
    return "\n".join(lines)


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    by_block: dict[str, list[Measurement]] = {}
    for row in report.rows:
        if row.seconds:
            by_block.setdefault(row.block, []).append(row)
    styles = ["-", "--", "-.", ":"]
    colours = plt.get_cmap("tab20").colors  # 20 distinct colours: one per block for the registry's size
    for index, (block, rows) in enumerate(sorted(by_block.items())):
        rows.sort(key=lambda r: r.length)
        ax.plot([r.length for r in rows], [r.seconds * 1e3 for r in rows], marker="o",
                color=colours[index % len(colours)], linestyle=styles[(index // len(colours)) % len(styles)],
                label=f"{block} {report.complexity[block]}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("forward + backward time (ms)")
    ax.set_title(f"Blocks at d_model {D_MODEL}, batch 1 ({report.device})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(os.environ.get(k) != v for k, v in REUSE_MEMORY_ENV.items()):
        os.execve(sys.executable, [sys.executable, __file__, *argv], {**os.environ, **REUSE_MEMORY_ENV})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="lengths 256,1024, a few blocks' worth of time")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lengths", default=None, help="comma-separated (default 1024,4096,16384)")
    parser.add_argument("--blocks", default=None, help="comma-separated block names (default: all)")
    parser.add_argument("--max-seconds", type=float, default=None, help="skip a run predicted slower than this")
    parser.add_argument("--max-memory-gib", type=float, default=4.0, help="skip a run the cost model puts above")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default 1 on CPU: steadier timings on a shared machine)")
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.lengths:
        lengths = [int(n) for n in args.lengths.split(",")]
    else:
        lengths = [256, 1024] if args.quick else list(DEFAULT_LENGTHS)
    if args.max_seconds is None:
        args.max_seconds = 2.0 if args.quick else 20.0
    args.overhead_length = 128 if args.quick else 512
    args.overhead_batch = 2 if args.quick else 4
    args.overhead_rounds = 5 if args.quick else 15
    args.scan_length = 256 if args.quick else 1024
    device = torch.device(args.device)
    if args.threads or device.type == "cpu":
        torch.set_num_threads(args.threads or 1)
    entries = [b for b in all_blocks() if not b.structural]
    if args.blocks:
        wanted = args.blocks.split(",")
        unknown = set(wanted) - {b.name for b in entries}
        if unknown:
            parser.error(f"unknown blocks: {sorted(unknown)}")
        entries = [b for b in entries if b.name in wanted]
    report = Report(device="cpu" if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(device)})",
                    lengths=lengths)
    bench_blocks(report, entries, device, args)
    bench_overhead(report, device, args)
    bench_scan(report, device, args)
    text = markdown(report, args)
    print(text)
    if not args.no_write:
        MD_PATH.write_text(text, encoding="utf-8")
        plot(report, PNG_PATH)
        progress(f"wrote {MD_PATH.relative_to(ROOT)} and {PNG_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
