"""What `jgnn train` prints and writes: readable units, progress lines in logs (no carriage
returns), the result lines, and JSON that is always valid (no bare NaN)."""

import io
import json
import math

import numpy as np
import pytest

from jgnn.cli._output import json_safe, write_json
from jgnn.cli._report import EpochLines, format_bytes, format_seconds, result_lines


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.50 KiB"),
        (615174144, "586.7 MiB"),  # 615174144 / 2**20 = 586.68
        (5 * 2**30 + 2**29, "5.50 GiB"),
        (40 * 2**30, "40.0 GiB"),
        (None, "n/a"),
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0078, "7.80 ms"),
        (0.0213, "21.3 ms"),
        (3.3082, "3.31 s"),
        (125.0, "2 min 5 s"),
        (float("nan"), "n/a"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_result_lines_say_where_the_accuracy_comes_from():
    metrics = {
        "test_accuracy": 0.8125,
        "val_accuracy": 0.79,
        "best_epoch": 56,
        "epochs": 200,
        "epoch_time_ms": 7.8,
        "compile_time_s": 3.3,
        "peak_memory_bytes": 3 * 2**20,
        "peak_memory_source": "process_rss",
    }
    lines = result_lines(metrics, ("test_accuracy", "val_accuracy", "epoch_time_ms", "x"))
    assert lines == [
        "test_accuracy: 0.8125  (at the best validation epoch, 57 of 200)",
        "val_accuracy: 0.7900",
        "epoch_time_ms: 7.80 ms  (median over epochs after the first)",
        "peak_memory: 3.00 MiB (process peak RSS)",
    ]


def test_epoch_lines_print_a_tenth_of_the_run():
    stream = io.StringIO()
    lines = EpochLines(95, stream=stream)
    for epoch in range(95):
        lines(epoch, {"loss": 1.0 / (epoch + 1), "val_accuracy": 0.5})
    text = stream.getvalue()
    assert "\r" not in text
    printed = text.splitlines()
    # every 10th epoch (ceil(95 / 10)) and the last one
    assert [line.split(",")[0] for line in printed] == [
        f"epoch {e}/95" for e in (*range(10, 95, 10), 95)
    ]
    assert printed[0].startswith("epoch 10/95, loss 0.1000, val 0.5000, ")
    assert printed[0].endswith("/epoch")


def test_json_safe_turns_non_finite_numbers_into_null():
    payload = {
        "a": float("nan"),
        "b": [float("inf"), 1.5],
        "c": np.float32(2.5),
        "d": (np.int64(3), -math.inf),
        "e": np.array([1.0, np.nan]),
    }
    assert json_safe(payload) == {
        "a": None,
        "b": [None, 1.5],
        "c": 2.5,
        "d": [3, None],
        "e": [1.0, None],
    }


def test_write_json_is_strict_and_atomic(tmp_path):
    path = tmp_path / "sub" / "m.json"
    write_json(path, {"loss": float("nan"), "status": "diverged"}, "--metrics-json")

    def no_constants(name):
        raise AssertionError(f"bare {name} in the JSON")

    assert json.loads(path.read_text(), parse_constant=no_constants) == {
        "loss": None,
        "status": "diverged",
    }
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
