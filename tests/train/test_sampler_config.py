"""SamplerConfig: one validator for the API and the CLI; defaults resolved from N."""

import pytest

from jgnn.train import LOADERS, SamplerConfig, check_sampler_options


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loader": "mini"}, ValueError, r"`loader` must be one of \[.*saint-rw"),
        ({"num_neighbors": (0, 5)}, ValueError, r"`num_neighbors`.*>= 1 or -1.*\[0, 5\]"),
        ({"num_neighbors": (-2,)}, ValueError, r"`num_neighbors`\[0\] must be >= -1"),
        ({"num_neighbors": ()}, ValueError, "`num_neighbors` must list one fanout per hop"),
        ({"num_neighbors": "15,10"}, TypeError, "`num_neighbors` must be a list of ints"),
        ({"batch_size": 0}, ValueError, "`batch_size` must be >= 1, got 0"),
        ({"batch_size": 2.5}, TypeError, "`batch_size` must be an int"),
        ({"num_workers": -1}, ValueError, "`num_workers` must be >= 0"),
        ({"num_parts": 4}, ValueError, "`num_parts` applies only with `loader` cluster"),
        ({"walk_length": 3}, ValueError, "`walk_length` applies only with `loader` saint-rw"),
        ({"trim": 1}, TypeError, "`trim` must be a bool"),
        ({"loader": "cluster", "num_parts": 0}, ValueError, "`num_parts` must be >= 1"),
        (
            {"loader": "cluster", "num_parts": 4, "parts_per_batch": 5},
            ValueError,
            r"`parts_per_batch` \(5\) exceeds `num_parts` \(4\)",
        ),
        (
            {"loader": "cluster", "trim": True},
            ValueError,
            "`trim` applies only with `loader` neighbor",
        ),
        ({"loader": "saint-rw", "sample_coverage": -1.0}, ValueError, "`sample_coverage`.*>= 0"),
        ({"loader": "saint-node", "sample_coverage": "x"}, TypeError, "`sample_coverage`"),
        ({"loader": "saint-node", "num_steps": 0}, ValueError, "`num_steps` must be >= 1"),
        ({"loader": "full", "batch_size": 8}, ValueError, "`batch_size`.*`loader` full"),
        ({"seed": -1}, ValueError, "`seed` must be >= 0"),
    ],
)
def test_bad_settings_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        SamplerConfig(**kwargs)


def test_the_cli_spelling_of_the_same_check():
    flag = lambda key: "--" + key.replace("_", "-")  # noqa: E731
    with pytest.raises(ValueError, match="--num-parts applies only with --loader cluster"):
        check_sampler_options("neighbor", {"num_parts": 4}, name=flag)
    with pytest.raises(ValueError, match="unknown sampler setting 'fanout'"):
        check_sampler_options("neighbor", {"fanout": 4})


@pytest.mark.parametrize(
    ("loader", "settings"),
    [
        ("neighbor", {"num_neighbors": (15, 10), "batch_size": 1024, "trim": False}),
        ("cluster", {"num_parts": 20, "parts_per_batch": 2}),
        ("saint-node", {"batch_size": 1024, "num_steps": 10, "sample_coverage": 100.0}),
        ("saint-edge", {"batch_size": 1024, "num_steps": 5}),
        ("saint-rw", {"batch_size": 1024, "walk_length": 2, "num_steps": 4}),
    ],
)
def test_defaults_for_ten_thousand_nodes(loader, settings):
    config = SamplerConfig(loader).resolve(10_000)
    assert config.is_resolved() and not SamplerConfig(loader).is_resolved()
    for key, value in settings.items():
        assert getattr(config, key) == value, key
    assert config.num_workers == 0
    others = {k for k, v in config.options().items() if v is None}
    assert "num_neighbors" in others or loader == "neighbor"


def test_explicit_settings_are_kept_and_tiny_graphs_are_covered():
    config = SamplerConfig("saint-rw", batch_size=10, walk_length=4).resolve(1000)
    assert config.num_steps == 20  # 1000 nodes / (10 roots * 5 nodes per walk)
    assert SamplerConfig("cluster").resolve(3).num_parts == 1
    assert SamplerConfig("neighbor", num_neighbors=[5, -1]).num_neighbors == (5, -1)
    assert set(LOADERS) == {"full", "neighbor", "cluster", "saint-node", "saint-edge", "saint-rw"}


@pytest.mark.parametrize(
    ("loader", "batch_size", "num_steps"),
    [
        ("saint-node", 6000, 4),
        ("saint-edge", 3000, 4),
        ("saint-rw", 2000, 4),
        ("neighbor", 1024, None),
    ],
)
def test_graphsaint_budget_keeps_about_three_neighbours(loader, batch_size, num_steps):
    """Mean degree 10: subgraphs of 30% of the nodes; denser graphs get smaller ones."""
    config = SamplerConfig(loader).resolve(20_000, num_edges=200_000)
    assert config.batch_size == batch_size and config.num_steps == num_steps
    if loader == "saint-node":
        assert SamplerConfig(loader).resolve(20_000, num_edges=2_000_000).batch_size == 600
        assert SamplerConfig(loader).resolve(100, num_edges=100).batch_size == 100
