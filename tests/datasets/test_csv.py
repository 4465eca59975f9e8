"""Tests for the gzip CSV reader: values against Python's own parsing, chunking, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jgnn.datasets._csv as csv
from jgnn.datasets import DatasetFormatError
from jgnn.datasets._csv import csv_width, read_csv_gz


def _write(path, text: str) -> None:
    with gzip.open(path, "wt", newline="") as f:
        f.write(text)


def _oracle(rows: list[list[str]], dtype) -> np.ndarray:
    """Each token through Python's correctly rounded ``float``/``int``, then the dtype."""
    if np.dtype(dtype).kind == "f":
        with np.errstate(over="ignore"):
            return np.array([[float(t) for t in row] for row in rows]).astype(dtype)
    return np.array([[int(t) for t in row] for row in rows], dtype=dtype)


_FLOAT_TOKENS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),  # up to 17 digits
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.6f}"),
    st.floats(min_value=-1e30, max_value=1e30).map(lambda v: f"{v:.4e}"),
    st.integers(-(10**15), 10**15).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=9).map(str),
    st.sampled_from(["0", "-0", "0.0", "-0.000", ".5", "5.", "+1.25", "1E3", "1e-300", "1e+22"]),
)


@given(
    st.lists(st.lists(_FLOAT_TOKENS, min_size=3, max_size=3), min_size=1, max_size=40),
    st.sampled_from([np.float32, np.float64]),
)
def test_floats_equal_correctly_rounded_python_floats(tmp_path_factory, rows, dtype):
    path = tmp_path_factory.mktemp("csv") / "f.csv.gz"
    _write(path, "".join(",".join(r) + "\n" for r in rows))
    out = read_csv_gz(path, num_rows=len(rows), num_cols=3, dtype=dtype)
    expected = _oracle(rows, dtype)
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))


def test_fast_path_and_fallback_agree_with_loadtxt(tmp_path):
    # The fallback chunk (nan, inf, 20 digits) is parsed by np.loadtxt; the others by the kernel.
    rng = np.random.default_rng(0)
    values = rng.standard_normal((2000, 4))
    lines = [",".join(f"{v:.6f}" for v in row) for row in values]
    lines[1500] = "nan,-inf,1.2345678901234567890123,1e400"
    path = tmp_path / "x.csv.gz"
    _write(path, "\n".join(lines) + "\n")
    out = read_csv_gz(path, num_rows=2000, num_cols=4, dtype=np.float32)
    reference = np.loadtxt(path, delimiter=",", dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(out, reference)  # equal_nan by default
    assert np.isnan(out[1500, 0]) and out[1500, 1] == -np.inf and out[1500, 3] == np.inf


_INT64 = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(st.lists(_INT64, min_size=2, max_size=2), max_size=50))
def test_integers_exact(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "e.csv.gz"
    _write(path, "".join(f"{a},{b}\n" for a, b in rows))
    out = read_csv_gz(path, num_rows=len(rows), num_cols=2)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.array(rows, dtype=np.int64).reshape(-1, 2))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunk_boundaries_do_not_matter(tmp_path, monkeypatch, chunk):
    rng = np.random.default_rng(1)
    rows = [[f"{v:.5f}" for v in rng.standard_normal(3)] for _ in range(200)]
    rows[17] = ["1.234567890123456789", "nan", "3"]  # forces the fallback in one chunk
    path = tmp_path / "x.csv.gz"
    _write(path, "".join(",".join(r) + "\n" for r in rows))
    monkeypatch.setattr(csv, "_CHUNK", chunk)
    out = read_csv_gz(path, num_rows=200, num_cols=3, dtype=np.float64)
    np.testing.assert_array_equal(out, _oracle(rows, np.float64))


@pytest.mark.parametrize("text", ["1,2\r\n3,4\r\n", "1,2\n3,4", "\n1,2\n\n3,4\n\n", "1,2\n3,4\n"])
def test_line_endings_blank_lines_and_missing_final_newline(tmp_path, text):
    path = tmp_path / "e.csv.gz"
    _write(path, text)
    assert read_csv_gz(path, num_rows=2, num_cols=2).tolist() == [[1, 2], [3, 4]]
    assert read_csv_gz(path, num_rows=None, num_cols=2).tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("token", ["9223372036854775808", "-9223372036854775809", "1" * 20])
def test_integers_outside_int64_are_refused(tmp_path, token):
    path = tmp_path / "e.csv.gz"
    _write(path, f"{token}\n")
    with pytest.raises(DatasetFormatError, match="expected an integer"):
        read_csv_gz(path, num_rows=1, num_cols=1)


def test_int64_extremes_are_exact(tmp_path):
    path = tmp_path / "e.csv.gz"
    _write(path, "-9223372036854775808,9223372036854775807\n")
    out = read_csv_gz(path, num_rows=1, num_cols=2)
    assert out.tolist() == [[-(2**63), 2**63 - 1]]


def test_unknown_row_count(tmp_path):
    path = tmp_path / "ids.csv.gz"
    _write(path, "".join(f"{i}\n" for i in range(1000)))
    np.testing.assert_array_equal(read_csv_gz(path, num_rows=None, num_cols=1)[:, 0], range(1000))
    _write(path, "")
    assert read_csv_gz(path, num_rows=None, num_cols=1).shape == (0, 1)


@pytest.mark.parametrize(
    ("text", "cols", "dtype", "match"),
    [
        ("1,2\n3,4,5\n", 2, np.int64, r"line 2 \('3,4,5'\): expected 2 comma-separated"),
        ("1,2\n3\n", 2, np.int64, r"line 2 \('3'\): expected 2 comma-separated"),
        ("1,2\n\n3,\n", 2, np.int64, r"line 3 \('3,'\): expected an integer"),
        ("1,2\n3,1.5\n", 2, np.int64, r"line 2 \('3,1.5'\): expected an integer"),
        ("1,2\n3, 4\n", 2, np.int64, r"line 2 \('3, 4'\): expected an integer"),
        ("1.0,x\n", 2, np.float32, r"line 1 \('1.0,x'\): expected a number"),
        ("1.0,2e\n", 2, np.float32, r"line 1 \('1.0,2e'\): expected a number"),
        ("1.0,abc\n", 2, np.float32, r"line 1 \('1.0,abc'\): expected a number"),
        ("1.0,nan\n2,inx\n", 2, np.float32, r"line 1 \('1.0,nan'\): cannot parse the lines"),
        ("1,2\n3,4\n5,6\n", 2, np.int64, r"line 3 \('5,6'\): more lines than the expected 2"),
        ("1,2\n", 2, np.int64, "has 1 lines of 2 values, expected 2"),
    ],
)
def test_malformed_text_names_file_and_line(tmp_path, text, cols, dtype, match):
    path = tmp_path / "bad.csv.gz"
    _write(path, text)
    with pytest.raises(DatasetFormatError, match=match) as info:
        read_csv_gz(path, num_rows=2, num_cols=cols, dtype=dtype)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("damage", ["truncated", "crc", "not gzip", "empty"])
def test_damaged_gzip_is_a_format_error(tmp_path, damage):
    path = tmp_path / "e.csv.gz"
    _write(path, "".join(f"{i},{i + 1}\n" for i in range(5000)))
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "crc":
        data[-8] ^= 0xFF
    elif damage == "not gzip":
        data = bytearray(b"0,1\n1,2\n")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(
        DatasetFormatError, match=r"not a complete gzip file|cannot hold 5000 lines"
    ):
        read_csv_gz(path, num_rows=5000, num_cols=2)


def test_csv_width_and_bad_dtype(tmp_path):
    path = tmp_path / "x.csv.gz"
    _write(path, "1.0,2.0,3.0\n4,5,6\n")
    assert csv_width(path) == 3
    _write(path, "\n1,2\n")
    with pytest.raises(DatasetFormatError, match="first line is empty"):
        csv_width(path)
    with pytest.raises(TypeError, match="dtype"):
        read_csv_gz(path, num_rows=1, num_cols=2, dtype=np.int32)
