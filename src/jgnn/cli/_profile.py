"""``jgnn profile``: time per epoch, peak memory and accuracy of each way of training.

Configurations (``--configs``): ``full`` (full-batch, float32), ``sampled`` (neighbour
sampling, float32) and ``sampled-bf16`` (neighbour sampling, bfloat16 compute), each run
compiled and uncompiled: jgnn under ``jax.jit`` (whole epochs) and under ``jax.disable_jit``
(a few steps, the epoch extrapolated and marked so), on Cora (when its files are found) and
on a synthetic graph of ``--nodes`` nodes. With the ``peers`` extra (torch and
torch_geometric importable) PyG runs the same models on the same data in the same run: eager
(its uncompiled mode, whole epochs) and ``torch.compile`` (its compiled mode). Every row
runs in a fresh process, so its peak memory is its own (:func:`jgnn.train.memory_window`).
Writes ``profile.json`` (valid JSON: no NaN) and ``profile.png`` (log-scale bars of time
per epoch and peak memory) into ``--out-dir`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.util
import itertools
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from jgnn.cli._errors import speak_flags
from jgnn.cli._output import check_output_dir, write_json
from jgnn.cli._report import format_bytes, format_seconds
from jgnn.cli._train import _int_list
from jgnn.train import (
    PROFILE_CONFIGS,
    ProfileSettings,
    load_profile_dataset,
    measure_training,
    profile_training,
    run_isolated,
)

__all__ = ["add_profile_parser", "run_profile", "validate_profile_args"]

_DATASETS = ("cora", "synthetic")
#: The flags that are ``jgnn.train.ProfileSettings`` fields (same names).
_SETTING_FLAGS = tuple(
    "model hidden dropout lr weight_decay full_epochs sampled_epochs uncompiled_steps fanouts "
    "batch_size seed".split()
)
#: (framework, execution) -> legend label, in the order rows run and bars are drawn.
_SERIES = {
    ("jgnn", "jit"): "jgnn jit",
    ("jgnn", "disable_jit"): "jgnn disable_jit (time extrapolated)",
    ("pyg", "eager"): "PyG eager",
    ("pyg", "torch.compile"): "PyG torch.compile",
}
_COLORS = dict(zip(_SERIES, ("#1f77b4", "#9ecae1", "#d62728", "#fc9272"), strict=True))


def _names(choices: tuple[str, ...]):
    """argparse type: a comma-separated subset of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        picked = tuple(p.strip().lower() for p in text.split(",") if p.strip())
        bad = [p for p in picked if p not in choices]
        if bad or not picked:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}, got {text!r}"
            )
        return tuple(dict.fromkeys(picked))

    return parse


def add_profile_parser(sub: Any) -> None:
    """Adds the ``profile`` sub-command to the ``jgnn`` parser."""
    d = ProfileSettings()
    p = sub.add_parser(
        "profile",
        help="profile full-batch, sampled and bf16 training, compiled and not (vs PyG)",
        description="Time per epoch, peak memory and test accuracy of full-batch, "
        "neighbour-sampled and sampled bf16 training, compiled (jax.jit) and uncompiled "
        "(jax.disable_jit: a few steps, the epoch extrapolated), on Cora and a synthetic "
        "graph, one fresh process per row; with torch and torch_geometric installed, PyG's "
        "eager and torch.compile runs side by side. Writes profile.json and profile.png.",
    )
    p.add_argument(
        "--datasets", type=_names(_DATASETS), default=_DATASETS, help="cora,synthetic (both)"
    )
    p.add_argument("--data-dir", default=None, help="folder holding Cora's raw files")
    p.add_argument("--no-verify", action="store_true", help="skip Cora's digest checks")
    p.add_argument("--nodes", type=int, default=200_000, help="synthetic graph size (200000)")
    configs = tuple(PROFILE_CONFIGS)
    p.add_argument(
        "--configs", type=_names(configs), default=configs, help=",".join(configs) + " (all)"
    )
    p.add_argument("--model", choices=("gcn", "sage"), default=d.model)
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--seed", type=int, default=d.seed)
    s = p.add_argument_group("sizes", "how long each row runs")
    s.add_argument("--full-epochs", type=int, default=d.full_epochs, help="full-batch epochs")
    s.add_argument("--sampled-epochs", type=int, default=d.sampled_epochs)
    s.add_argument("--uncompiled-steps", type=int, default=d.uncompiled_steps, help="0: none")
    s.add_argument("--fanouts", type=_int_list, default=d.fanouts, help="per hop (10,5)")
    s.add_argument("--batch-size", type=int, default=d.batch_size, help="seeds per batch")
    s.add_argument("--timeout-s", type=float, default=3600.0, help="limit per row (3600)")
    g = p.add_argument_group("PyG side by side")
    g.add_argument("--peers", choices=("auto", "yes", "no"), default="auto")
    g.add_argument("--no-torch-compile", dest="torch_compile", action="store_false")
    g.add_argument("--torch-threads", type=int, default=None, help="default: torch's")
    o = p.add_argument_group("output")
    o.add_argument("--out-dir", default="jgnn-profile", help="profile.json, profile.png")
    o.add_argument("--no-chart", action="store_true", help="write no PNG")
    p.set_defaults(run=run_profile, validate=validate_profile_args, command_parser=p)


def validate_profile_args(args: argparse.Namespace) -> None:
    """Checks every flag; raises ``ValueError`` naming the first bad one.

    Sets ``args.settings`` (a :class:`jgnn.train.ProfileSettings`), ``args.with_peers`` and
    ``args.out_dir`` (absolute).

    Args:
        args: The parsed ``jgnn profile`` arguments.

    Raises:
        ValueError: A flag out of range, ``--peers yes`` without torch and torch_geometric,
            or an ``--out-dir`` that cannot be written.
    """
    values = {field: getattr(args, field) for field in _SETTING_FLAGS}
    if args.uncompiled_steps in (0, 1):
        if args.uncompiled_steps == 1:
            raise ValueError("--uncompiled-steps must be 0 (no uncompiled rows) or >= 2, got 1.")
        values["uncompiled_steps"] = ProfileSettings.uncompiled_steps  # unused: stands in
    try:
        args.settings = ProfileSettings(**values)
    except ValueError as err:  # `hidden` -> --hidden
        raise ValueError(speak_flags(str(err), _SETTING_FLAGS)) from None
    if args.nodes < 100:
        raise ValueError(f"--nodes must be >= 100, got {args.nodes}.")
    if not 0 < args.timeout_s < float("inf"):
        raise ValueError(f"--timeout-s must be finite and > 0, got {args.timeout_s}.")
    if args.torch_threads is not None and args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be >= 1, got {args.torch_threads}.")
    have_peers = all(importlib.util.find_spec(m) for m in ("torch", "torch_geometric"))
    if args.peers == "yes" and not have_peers:
        raise ValueError(
            "--peers yes needs torch and torch_geometric (pip install 'jgnn[peers]'); "
            "use --peers no or auto."
        )
    args.with_peers = have_peers and args.peers != "no"
    args.out_dir = check_output_dir(args.out_dir, "--out-dir")


# ---------------------------------------------------------------------------------- datasets


def _datasets(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The datasets that can run (``spec``: the arguments of
    :func:`jgnn.train.load_profile_dataset`, ``name`` and sizes) and the skipped ones."""
    from jgnn.datasets import DatasetError

    found, skipped = [], []
    for name in args.datasets:
        if name == "cora":
            root = None if args.data_dir is None else str(args.data_dir)
            spec = {"name": "cora", "root": root, "verify": not args.no_verify}
        else:
            spec = {"name": "synthetic", "nodes": args.nodes, "seed": args.seed}
        try:
            data, x = load_profile_dataset(**spec)
        except DatasetError as err:
            if len(args.datasets) == 1:
                raise
            print(f"jgnn profile: skipping {name}: {err}", file=sys.stderr)
            skipped.append({"dataset": name, "reason": str(err)})
            continue
        found.append({
            "spec": spec, "name": data.name, "nodes": data.num_nodes, "edges": data.num_edges,
            "features": int(x.shape[1]), "classes": data.num_classes,
            "train_nodes": int(data.train_mask.sum()),
        })  # fmt: skip
    return found, skipped


# ------------------------------------------------------------------------------------- rows


def _pyg_row(data: Any, x: Any, config: str, compiled: bool, s: Any, threads: Any) -> dict:
    """PyG's counterpart of :func:`jgnn.train.profile_training` (same model, optimizer,
    sizes and timing), eager or under ``torch.compile``; bf16 is ``torch.autocast``."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader
    from torch_geometric.nn import GCNConv, SAGEConv

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(s.seed)
    sampled, policy = PROFILE_CONFIGS[config]
    conv = {"gcn": GCNConv, "sage": SAGEConv}[s.model]
    sizes = (x.shape[1], s.hidden, data.num_classes)

    class Net(torch.nn.Module):  # as jgnn's BasicGNN: dropout before each layer, ReLU between
        def __init__(self) -> None:
            super().__init__()
            self.convs = torch.nn.ModuleList([conv(sizes[0], sizes[1]), conv(*sizes[1:])])

        def forward(self, h, edge_index):
            for i, layer in enumerate(self.convs):
                h = layer(F.dropout(h, s.dropout, self.training), edge_index)
                h = h.relu() if i == 0 else h
            return h

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    forward = torch.compile(model, dynamic=sampled) if compiled else model
    bf16 = policy == "bf16"
    cast = lambda: torch.autocast("cpu", torch.bfloat16) if bf16 else contextlib.nullcontext()  # noqa: E731
    edges = np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)])
    graph = Data(
        x=torch.from_numpy(np.array(x, np.float32)),
        edge_index=torch.from_numpy(edges.astype(np.int64)),
        y=torch.from_numpy(np.asarray(data.labels, np.int64)),
    )
    train = torch.from_numpy(np.array(data.train_mask, bool))

    def run_step(batch: tuple) -> float:
        h, edge_index, y, rows = batch
        opt.zero_grad()
        with cast():
            out = forward(h, edge_index)
        loss = F.cross_entropy(out.float()[rows], y[rows])
        loss.backward()
        opt.step()
        return loss.item()  # waits for the step

    if sampled:
        loader = NeighborLoader(
            graph, num_neighbors=list(s.fanouts), batch_size=s.batch_size,
            input_nodes=torch.nonzero(train).flatten(), shuffle=True,
        )  # fmt: skip
        batches = lambda epoch: (  # noqa: E731
            (b.x, b.edge_index, b.y, slice(0, b.batch_size)) for b in loader
        )
        per_epoch, epochs = len(loader), s.sampled_epochs
    else:
        batches = lambda epoch: [(graph.x, graph.edge_index, graph.y, train)]  # noqa: E731
        per_epoch, epochs = 1, s.full_epochs
    model.train()
    row = measure_training(
        run_step, batches, steps_per_epoch=per_epoch, epochs=epochs, device_memory=False
    )
    model.eval()  # evaluated eagerly (not timed): the same weights
    with torch.no_grad(), cast():
        pred = model(graph.x, graph.edge_index).argmax(-1)
    test = torch.from_numpy(np.array(data.test_mask, bool))
    return {
        "framework": "pyg",
        "config": config,
        "execution": "torch.compile" if compiled else "eager",
        "precision": "bf16 (torch.autocast)" if bf16 else "fp32",
        **row,
        "test_accuracy": float((pred[test] == graph.y[test]).float().mean()),
        "torch_threads": torch.get_num_threads(),
    }


def row_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Loads the row's dataset and runs it (the function :func:`jgnn.train.run_isolated`
    calls in the row's process)."""
    settings = ProfileSettings(**spec["settings"])
    data, x = load_profile_dataset(**spec["dataset"])
    if spec["framework"] == "jgnn":
        return profile_training(
            data, x, spec["config"], compiled=spec["compiled"], settings=settings
        )
    return _pyg_row(data, x, spec["config"], spec["compiled"], settings, spec["threads"])


def _plan(args: argparse.Namespace) -> list[tuple[str, bool, str]]:
    """``(framework, compiled, execution)`` of the rows of every configuration."""
    plan = [("jgnn", True, "jit")]
    plan += [("jgnn", False, "disable_jit")] if args.uncompiled_steps else []
    plan += [("pyg", False, "eager")] if args.with_peers else []
    plan += [("pyg", True, "torch.compile")] if args.with_peers and args.torch_compile else []
    return plan


def _command(args: argparse.Namespace) -> str:
    """The run as one explicit command line (every flag, defaults included)."""
    words = ["jgnn", "profile"]
    for action in args.command_parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest == "help" or value is None:
            continue
        if isinstance(action, argparse._StoreConstAction):  # store_true / store_false
            words += [action.option_strings[0]] if value == action.const else []
        else:
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            words += [action.option_strings[0], shlex.quote(text)]
    return " ".join(words)


def _environment(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    env = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": _command(args),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
    }
    for name in ("torch", "torch_geometric") if args.with_peers else ():
        env[name] = importlib.import_module(name).__version__
    return env


def run_profile(args: argparse.Namespace) -> int:
    """Runs ``jgnn profile`` (flags already validated); returns the exit status: 0, or 1
    when a row failed (the report is written either way, with the row's error)."""
    found, skipped = _datasets(args)
    report: dict[str, Any] = {
        "schema": "jgnn-profile/1",
        "environment": _environment(args),
        "settings": {**dataclasses.asdict(args.settings), "nodes": args.nodes},
        "datasets": [{k: v for k, v in d.items() if k != "spec"} for d in found],
        "skipped": skipped,
        "definitions": _DEFINITIONS,
        "rows": [],
    }
    plan = [(d, c, p) for d in found for c in args.configs for p in _plan(args)]
    for i, (dataset, config, (framework, compiled, execution)) in enumerate(plan):
        spec = {
            "dataset": dataset["spec"],
            "config": config,
            "framework": framework,
            "compiled": compiled,
            "settings": dataclasses.asdict(args.settings),
            "threads": args.torch_threads,
        }
        what = f"{dataset['name']} {config} {framework} {execution}"
        print(f"[{i + 1}/{len(plan)}] {what} ...", file=sys.stderr, flush=True)
        row = {"dataset": dataset["name"], "config": config, "framework": framework}
        row |= {"execution": execution} | run_isolated(
            "jgnn.cli._profile:row_worker", spec, timeout_s=args.timeout_s
        )
        if "error" in row:
            print(f"jgnn profile: warning: {what} failed: {row['error']}", file=sys.stderr)
        report["rows"].append(row)
    out = Path(args.out_dir)
    report["chart"] = None if args.no_chart else _chart(report, out / "profile.png")
    write_json(out / "profile.json", report, "--out-dir")
    print("\n".join(table_lines(report)))
    chart = f"; chart: {report['chart']}" if report["chart"] else ""
    print(f"\nJSON: {out / 'profile.json'}{chart}")
    return int(any("error" in row for row in report["rows"]))  # 1: a row failed


_DEFINITIONS = {
    "epoch_time_ms": "one training epoch without compilation (full: one step; sampled: one "
    "pass over the training nodes, batch waits included), median over epochs after the first; "
    "extrapolated rows: median step after the first times steps_per_epoch",
    "peak_memory_bytes": "growth of the process's resident set over the training loop (one "
    "process per row; setup excluded); source 'device': the device allocator's peak",
    "test_accuracy": "full-graph inference after the last epoch; null for extrapolated rows",
    "executions": "jgnn: jit, or disable_jit (op by op, a few steps); PyG (no jit, on the "
    "CPU): eager, or torch.compile (dynamic shapes when sampled), evaluated eagerly",
    "sampled-bf16": "jgnn: Policy bf16 (bf16 compute, fp32 parameters and loss); PyG: "
    "torch.autocast(cpu, bfloat16)",
}


# ---------------------------------------------------------------------------------- outputs


def table_lines(report: dict[str, Any]) -> list[str]:
    """The report as a Markdown table (with the environment above it)."""
    env = report["environment"]
    lines = [
        f"# jgnn profile, {env['date']}",
        f"machine: {env['machine']}; python {env['python']}, jax {env['jax']} "
        f"({env['backend']})"
        + (f", torch {env['torch']}, PyG {env['torch_geometric']}" if "torch" in env else ""),
        f"command: {env['command']}",
        "",
        "| dataset | config | framework | execution | time / epoch | vs jgnn jit | "
        "first epoch (step) | peak memory | test acc |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {
        (r["dataset"], r["config"]): r.get("epoch_time_ms")
        for r in report["rows"]
        if (r["framework"], r.get("execution")) == ("jgnn", "jit")
    }
    for r in report["rows"]:
        cells = [r["dataset"], r["config"], r["framework"], r.get("execution", "?")]
        if "error" in r:
            lines.append("| " + " | ".join(cells) + f" | failed: {r['error'][:80]} | | | | |")
            continue
        time_ms, ref = r["epoch_time_ms"], base.get((r["dataset"], r["config"]))
        approx = "≈ " if r["epoch_time_extrapolated"] else ""
        first = r.get("first_epoch_s", r.get("first_step_s"))
        acc = r.get("test_accuracy")
        cells += [
            approx + format_seconds(time_ms / 1e3),
            f"{time_ms / ref:.2f}x" if ref else "-",
            format_seconds(first) + ("" if "first_epoch_s" in r else " (step)"),
            format_bytes(r["peak_memory_bytes"]),
            "-" if acc is None else f"{acc:.4f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("≈: extrapolated from a few uncompiled steps. Definitions: profile.json.")
    return lines


def _chart(report: dict[str, Any], path: Path) -> str | None:
    """Log-scale bars of time per epoch and peak memory per configuration, one column of
    panels per dataset; writes the PNG atomically and returns its path (None without
    matplotlib or rows)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import LogFormatter
    except ImportError:
        print("jgnn profile: no chart: matplotlib is not installed", file=sys.stderr)
        return None
    rows = [r for r in report["rows"] if "error" not in r]
    index = {(r["dataset"], r["config"], r["framework"], r["execution"]): r for r in rows}
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    if not names:
        return None
    series = [k for k in _SERIES if any(key[2:] == k for key in index)]
    width = 0.8 / len(series)
    fig = Figure(figsize=(1.0 + 5.5 * len(names), 7.5), layout="constrained")
    axes = fig.subplots(2, len(names), squeeze=False)
    panels = (
        ("epoch_time_ms", "time per epoch (s)", 1e-3),
        ("peak_memory_bytes", "peak memory (MiB, RSS growth)", 2.0**-20),
    )
    for col, name in enumerate(names):
        configs = list(dict.fromkeys(r["config"] for r in rows if r["dataset"] == name))
        for line, (key, label, scale) in enumerate(panels):
            ax = axes[line][col]
            for (j, k), (c, config) in itertools.product(enumerate(series), enumerate(configs)):
                r = index.get((name, config, *k))
                if r is None or not r.get(key):
                    continue
                hatch = "//" if key == "epoch_time_ms" and r["epoch_time_extrapolated"] else None
                x = c + (j - (len(series) - 1) / 2) * width
                bar = ax.bar(x, r[key] * scale, width, color=_COLORS[k], hatch=hatch,
                             edgecolor="black", linewidth=0.5, label=_SERIES[k])  # fmt: skip
                ax.bar_label(bar, fmt="{:.3g}", fontsize=7)
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter("{x:g}")  # plain numbers, not 10^k
            ax.yaxis.set_minor_formatter(LogFormatter())  # labels some minor ticks if few
            ax.set_xticks(range(len(configs)), configs)
            ax.set_ylabel(label)
            ax.set_title(f"{name}: {label.split(' (')[0]}")
            ax.grid(axis="y", which="major", alpha=0.3)
    unique = {}
    for ax in fig.axes:
        unique |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(unique.values(), unique.keys(), loc="outside lower center", ncols=len(unique))
    fig.suptitle("jgnn profile (log scale; hatched: extrapolated from a few uncompiled steps)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".profile-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return str(path)
