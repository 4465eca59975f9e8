"""Tests for the restricted unpickler: real Planetoid files load, anything else is refused."""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import pickletools
import subprocess
import warnings

import numpy as np
import pytest
import scipy.sparse

from jgnn.datasets import PLANETOID_SHA256, DatasetError, PickleFormatError, sha256_file
from jgnn.datasets._safe_pickle import ALLOWED_GLOBALS, safe_load, safe_loads


class _Payload:
    """Pickles to a call of ``func(*args)``, the classic pickle code-execution trick."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": _Payload(os.system, cmd),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "builtins.exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.Popen": _Payload(subprocess.Popen, ["touch", str(marker)]),
        "builtins.open": _Payload(builtins.open, str(marker), "w"),
        # Hidden inside an allowed container, so the refusal must happen mid-stream.
        "nested": collections.defaultdict(list, {0: [_Payload(os.system, cmd)]}),
    }


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize(
    "kind",
    ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen", "builtins.open", "nested"],
)
def test_malicious_pickle_refused_without_running(tmp_path, kind, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps(_payloads(marker)[kind], protocol=protocol)
    path = tmp_path / "ind.cora.graph"
    path.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError) as info:
        safe_load(path)
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message
    assert "refusing to load global" in message


@pytest.mark.parametrize("kind", ["builtins.eval", "builtins.open", "nested"])
def test_payloads_are_live_under_plain_pickle(tmp_path, kind):
    # The oracle for the refusal tests: an unrestricted unpickler does run these payloads.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_payloads(marker)[kind], protocol=2))
    assert marker.exists()


def test_refusal_names_module_and_class(tmp_path):
    with pytest.raises(pickle.UnpicklingError) as info:
        safe_loads(pickle.dumps(_Payload(subprocess.Popen, ["true"]), protocol=4), source="f.pkl")
    message = str(info.value)
    assert "'subprocess.Popen'" in message and "module 'subprocess'" in message
    assert "class 'Popen'" in message and message.startswith("f.pkl: ")


def test_allowed_module_but_other_name_refused():
    # `__builtin__` is allowed for `list` only; protocol 2 writes eval as `__builtin__ eval`.
    data = pickle.dumps(_Payload(builtins.eval, "1"), protocol=2)
    ops = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert ops == {"__builtin__ eval"}
    with pytest.raises(pickle.UnpicklingError, match="__builtin__.eval"):
        safe_loads(data)


def test_object_dtype_refused():
    class OldNumpyArray:  # mimics a Python 2 numpy pickle holding an object array
        def __reduce__(self):
            return np.dtype, ("O8", 0, 1)

    data = pickle.dumps(OldNumpyArray(), protocol=2)
    assert "numpy dtype" in {a for o, a, _ in pickletools.genops(data) if o.name == "GLOBAL"}
    with pytest.raises(pickle.UnpicklingError, match="object dtype"):
        safe_loads(data)


def test_allowed_containers_round_trip():
    graph = collections.defaultdict(list, {0: [1, 2], 3: [0]})
    data = pickle.dumps(graph, protocol=2)
    globals_used = {a for o, a, _ in pickletools.genops(data) if o.name == "GLOBAL"}
    assert globals_used == {"collections defaultdict", "__builtin__ list"}
    out = safe_loads(data)
    assert isinstance(out, collections.defaultdict) and out == graph
    assert out.default_factory is list


def test_malformed_pickle_names_source():
    with pytest.raises(pickle.UnpicklingError, match="bad.pkl"):
        safe_loads(b"\x80\x02]q\x00(K\x01", source="bad.pkl")


@pytest.mark.parametrize(
    "data", [b"", b"\x80\x02]q\x00(K\x01", bytes(range(256)) * 4, b"not a pickle at all"]
)
def test_malformed_and_refused_pickles_are_one_dataset_error(data):
    # Empty, truncated, random and text inputs, and a refused global, all raise the same type:
    # a DatasetError (one-line CLI report) that is still a pickle.UnpicklingError.
    for payload in (data, pickle.dumps(_Payload(os.system, "true"), protocol=2)):
        with pytest.raises(PickleFormatError) as info:
            safe_loads(payload, source="ind.cora.x")
        assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)
        assert isinstance(info.value, pickle.UnpicklingError)
        assert str(info.value).startswith("ind.cora.x: ")


def test_allow_list_is_exactly_the_planetoid_globals():
    assert set(ALLOWED_GLOBALS) == {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("scipy.sparse.csr", "csr_matrix"),
        ("collections", "defaultdict"),
        ("__builtin__", "list"),
    }


def _plain_load(path):
    """The unrestricted reference (safe here: the files' digests are pinned)."""
    with open(path, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pickle.load(f, encoding="latin1")


@pytest.mark.parametrize("suffix", ["x", "tx", "allx", "y", "ty", "ally", "graph"])
@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_real_files_match_plain_pickle(raw_dir, name, suffix):
    path = raw_dir / f"ind.{name}.{suffix}"
    assert sha256_file(path) == PLANETOID_SHA256[path.name]
    used = {a for o, a, _ in pickletools.genops(path.read_bytes()) if o.name == "GLOBAL"}
    assert {tuple(g.split(" ")) for g in used} <= set(ALLOWED_GLOBALS)
    ours, reference = safe_load(path), _plain_load(path)
    assert type(ours) is type(reference)
    if suffix == "graph":
        assert dict(ours) == dict(reference)
    elif scipy.sparse.issparse(ours):
        np.testing.assert_array_equal(ours.toarray(), reference.toarray())
        assert ours.dtype == reference.dtype
    else:
        np.testing.assert_array_equal(ours, reference)
        assert ours.dtype == reference.dtype
