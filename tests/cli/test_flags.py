"""Every bad `jgnn train` flag is refused before any work, with exit status 2 and a message
that names the flag, what it expects and what it got (issue 14's table and more)."""

import dataclasses
import re

import pytest

from jgnn.cli import main
from jgnn.models import GCN, RECIPES

BAD_FLAGS = [
    # issue 14: values that crashed deep inside JAX or trained silently at chance
    (["--hidden", "0"], r"--hidden must be >= 1, got 0\."),
    (["--hidden", "-3"], r"--hidden must be >= 1, got -3\."),
    (["--lr", "nan"], r"--lr must be a finite number, got nan\."),
    (["--lr", "inf"], r"--lr must be a finite number, got inf\."),
    (["--lr", "-0.01"], r"--lr must be > 0, got -0\.01\."),
    (["--lr", "0"], r"--lr must be > 0, got 0\.0\."),
    (["--weight-decay", "nan"], r"--weight-decay must be a finite number, got nan\."),
    (["--weight-decay", "-1"], r"--weight-decay must be >= 0, got -1\.0\."),
    (["--dropout", "1.5"], r"--dropout is the probability .* must be < 1, got 1\.5\."),
    (["--dropout", "1.0"], r"--dropout is the probability .* must be < 1, got 1\.0\."),
    (["--dropout", "-0.5"], r"--dropout must be >= 0, got -0\.5\."),
    (["--dropout", "nan"], r"--dropout must be a finite number, got nan\."),
    (["--seed", "-1"], r"--seed must be >= 0, got -1\."),
    (["--seed", str(2**32)], r"--seed must be <= 4294967295, got 4294967296\."),
    (["--epochs", "0"], r"--epochs must be >= 1, got 0\."),
    (["--hidden", "1.5"], r"argument --hidden: invalid int value: '1\.5'"),
    (["--dataset", "imagenet"], r"argument --dataset: invalid choice: 'imagenet'"),
    # combinations that make no sense
    (["--data-dir", "{tmp}"], r"--data-dir applies to datasets read from files .* drop --data-dir"),
    (["--dataset", "synthetic-200k", "--data-dir", "{tmp}"], r"--dataset synthetic-200k is gen"),
    (["--dataset", "cora", "--data-dir", "{tmp}/nope"], r"--data-dir \S+/nope does not exist"),
    (["--no-verify"], r"--no-verify skips the pinned digests .* --dataset synthetic has none"),
    (["--num-parts", "8"], r"--num-parts applies only with --loader cluster or --gas"),
    (["--loader", "neighbor", "--parts-per-batch", "2"], r"--parts-per-batch applies only with"),
    (["--gas", "--loader", "neighbor"], r"--gas trains on METIS parts .* drop --loader neighbor"),
    (["--gas", "--num-neighbors", "5,5"], r"--num-neighbors applies only with --loader neighbor"),
    (["--gas", "--num-parts", "0"], r"--num-parts must be >= 1"),
    (["--gas", "--num-parts", "4", "--parts-per-batch", "5"], r"\(5\) exceeds --num-parts \(4\)"),
    (["--precision", "bf16", "--loader", "neighbor"], r"--precision bf16 runs with --loader full"),
    (["--precision", "fp16", "--gas"], r"--precision fp16 runs with --loader full only: the --gas"),
    (["--precision", "fp8"], r"argument --precision: invalid choice: 'fp8'"),
    (["--resume"], r"--resume needs --checkpoint-dir"),
    (["--checkpoint-every", "5"], r"--checkpoint-every needs --checkpoint-dir"),
    (
        ["--checkpoint-dir", "{tmp}/c", "--checkpoint-every", "0"],
        r"--checkpoint-every must be >= 1",
    ),
    (["--checkpoint-dir", "{tmp}/c", "--loader", "cluster"], r"--checkpoint-dir works with --loa"),
    (["--checkpoint-dir", "{tmp}/empty", "--resume"], r"--resume: --checkpoint-dir \S+ holds no"),
    (["--checkpoint-dir", "{tmp}/used"], r"--checkpoint-dir \S+/used already holds a run; pass"),
    (["--checkpoint-dir", "{tmp}/file"], r"--checkpoint-dir \S+/file is a file; give a folder"),
    (["--eval-every", "3"], r"--eval-every applies to the sampling loaders and --gas"),
    # sampler flags (jgnn.train.check_sampler_options, spelled as flags)
    (["--loader", "neighbor", "--num-neighbors", "0,5"], r"--num-neighbors must list one"),
    (["--loader", "neighbor", "--num-neighbors", "5"], r"--num-neighbors 5 samples 1 hops"),
    (["--loader", "neighbor", "--num-neighbors", "a,b"], r"argument --num-neighbors"),
    (["--loader", "neighbor", "--batch-size", "0"], r"--batch-size must be >= 1, got 0"),
    (["--num-neighbors", "5,5"], r"--num-neighbors applies only with --loader neighbor"),
    (["--loader", "cluster", "--parts-per-batch", "0"], r"--parts-per-batch must be >= 1"),
    (["--loader", "cluster", "--num-parts", "4", "--parts-per-batch", "5"], r"exceeds --num-par"),
    (["--loader", "saint-rw", "--walk-length", "0"], r"--walk-length must be >= 1"),
    (["--loader", "saint-node", "--walk-length", "2"], r"--walk-length applies only"),
    (["--loader", "saint-edge", "--sample-coverage", "-1"], r"--sample-coverage must be"),
    (["--loader", "saint-edge", "--sample-coverage", "nan"], r"--sample-coverage must be finite"),
    (["--loader", "saint-edge", "--num-steps", "0"], r"--num-steps must be >= 1"),
    (["--loader", "cluster", "--num-workers", "-2"], r"--num-workers must be >= 0"),
    (["--loader", "cluster", "--trim"], r"--trim applies only with --loader neighbor"),
    (["--loader", "neighbor", "--eval-every", "0"], r"--eval-every must be >= 1"),
    (["--loader", "mini"], r"argument --loader: invalid choice"),
]


@pytest.fixture
def no_work(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("validation must happen before any work")

    monkeypatch.setattr("jgnn.datasets.load", fail)


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "2").mkdir()
    (tmp_path / "file").write_text("x")
    return tmp_path


def _refused(flags, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *flags])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    return err


@pytest.mark.parametrize(("flags", "match"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_flag_exits_2_naming_it(flags, match, folders, no_work, capsys):
    err = _refused([f.format(tmp=folders) for f in flags], capsys)
    lines = err.strip().splitlines()
    assert lines[0].startswith("jgnn train: error: ") and re.search(match, lines[0]), err
    assert lines[1:] == ["(`jgnn train --help` lists the flags)"] and "Traceback" not in err


def test_gas_with_a_model_it_cannot_run(monkeypatch, no_work, capsys):
    def per_batch_norm(in_features, num_classes, hidden, dropout, rngs):
        return GCN(in_features, hidden, num_classes, dropout=dropout, normalize=True, rngs=rngs)

    recipe = dataclasses.replace(RECIPES["gcn"], build=per_batch_norm)
    monkeypatch.setitem(RECIPES, "gcn-normalize", recipe)
    err = _refused(["--gas", "--model", "gcn-normalize"], capsys)
    assert "--gas does not support --model gcn-normalize: GAS computes the GCN normal" in err
    assert "Train it with --loader full or a sampling --loader." in err


def test_every_recipe_runs_under_gas():
    """The check above refuses nothing that GNNAutoScale runs: every shipped recipe passes."""
    from jgnn.cli._main import build_parser
    from jgnn.cli._validate import validate_train_args

    for model in sorted(RECIPES):
        args = build_parser().parse_args(["train", "--gas", "--model", model])
        validate_train_args(args)  # raises for a model gas_program refuses
