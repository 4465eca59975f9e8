"""Synthetic graphs: the contextual stochastic block model and Chung-Lu power-law graphs.

Both generators are vectorised host-side NumPy seeded through ``np.random.SeedSequence(seed)``
(same seed, same graph on every machine), and scale to millions of nodes in seconds. CSBM
features, the bulk of the work for wide features, are drawn in independently seeded row chunks
on a few threads; the result does not depend on the thread count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import jraph
import numpy as np

from jgnn.datasets._edges import build_graph, undirected_coalesced
from jgnn.datasets._types import NodeDataset

__all__ = [
    "SCALING_SIZES",
    "contextual_sbm",
    "planetoid_like_split",
    "power_law_graph",
    "random_split",
    "scaling_csbm",
]

#: Graph sizes of the GNNAutoScale scaling runs (nodes), used with :func:`scaling_csbm`.
SCALING_SIZES: tuple[int, ...] = (100_000, 1_000_000, 4_000_000)

# Norm of each class-mean feature vector. With unit noise per coordinate this keeps features
# alone weak at the defaults (a 2-layer MLP reaches 33-39% test accuracy) while neighbourhood
# averaging lifts a 2-layer GCN to 87-92% (hidden 64, dropout 0.5, Adam 0.01, seeds 0-2).
_MEAN_NORM = 2.0
_FEATURE_CHUNK = 1 << 15  # rows per independently seeded feature chunk
_MAX_THREADS = 8


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _class_gaussians(
    seeds: np.random.SeedSequence, labels: np.ndarray, means: np.ndarray, noise: float
) -> np.ndarray:
    """Returns ``means[labels] + noise * N(0, I)`` as float32, filled in row chunks.

    Each chunk of ``_FEATURE_CHUNK`` rows draws from its own child of ``seeds``, so the result
    does not depend on how many threads fill the chunks (NumPy releases the GIL while filling).
    """
    n, f = labels.shape[0], means.shape[1]
    x = np.empty((n, f), dtype=np.float32)
    starts = range(0, n, _FEATURE_CHUNK)
    children = seeds.spawn(len(starts))
    scale = np.float32(noise)

    def fill(i: int) -> None:
        lo = starts[i]
        hi = min(lo + _FEATURE_CHUNK, n)
        block = x[lo:hi]
        np.random.default_rng(children[i]).standard_normal(out=block, dtype=np.float32)
        block *= scale
        block += means[labels[lo:hi]]

    workers = min(len(starts), _MAX_THREADS, os.cpu_count() or 1)
    if workers <= 1:
        for i in range(len(starts)):
            fill(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, range(len(starts))))
    return x


def planetoid_like_split(
    labels: np.ndarray,
    num_classes: int,
    rng: np.random.Generator,
    *,
    per_class: int = 20,
    num_val: int = 500,
    num_test: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws a disjoint random split shaped like Planetoid's public split.

    Host-side. Each class puts ``min(per_class, max(1, n_c // 10))`` random nodes into the
    training set (``n_c`` = nodes in class ``c``; an empty class gives none), so large graphs get
    exactly ``per_class`` per class. Of the remaining ``R`` nodes, in random order, the first
    ``min(num_val, R // 3)`` are validation and the next ``min(num_test, R - n_val)`` are test;
    the rest are in no split.

    Args:
        labels: int ``[N]`` class ids in ``[0, num_classes)``.
        num_classes: Number of classes.
        rng: Random generator (consumed).
        per_class: Training nodes per class for large graphs.
        num_val: Validation nodes for large graphs.
        num_test: Test nodes for large graphs.

    Returns:
        ``(train_mask, val_mask, test_mask)``, bool ``[N]`` each, pairwise disjoint.

    Examples:
        >>> import numpy as np
        >>> y = np.arange(3000) % 3
        >>> tr, va, te = planetoid_like_split(y, 3, np.random.default_rng(0))
        >>> int(tr.sum()), int(va.sum()), int(te.sum())
        (60, 500, 1000)
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    perm = rng.permutation(n)
    by_class = perm[np.argsort(labels[perm], kind="stable")]  # random order within each class
    counts = np.bincount(labels, minlength=num_classes)
    starts = np.cumsum(counts) - counts
    take = np.where(counts > 0, np.minimum(per_class, np.maximum(1, counts // 10)), 0)
    rank = np.arange(n) - np.repeat(starts, counts)  # position of each node within its class
    is_train = rank < np.repeat(take, counts)
    train = by_class[is_train]
    rest = by_class[~is_train]
    rest = rest[rng.permutation(rest.shape[0])]
    n_val = min(num_val, rest.shape[0] // 3)
    n_test = min(num_test, rest.shape[0] - n_val)
    masks = np.zeros((3, n), dtype=bool)
    masks[0, train] = True
    masks[1, rest[:n_val]] = True
    masks[2, rest[n_val : n_val + n_test]] = True
    return masks[0], masks[1], masks[2]


def random_split(
    num_nodes: int, rng: np.random.Generator, train_fraction: float, val_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits the nodes at random by fractions: train, validation, and the rest as test.

    Host-side. ``round(N * train_fraction)`` random nodes are training nodes, the next
    ``round(N * val_fraction)`` of the same permutation validation nodes, and all the others
    test nodes.

    Args:
        num_nodes: Number of nodes ``N``.
        rng: Random generator (consumed: one permutation).
        train_fraction: Fraction of training nodes, in ``[0, 1]``.
        val_fraction: Fraction of validation nodes, with ``train_fraction + val_fraction <= 1``.

    Returns:
        ``(train_mask, val_mask, test_mask)``, bool ``[N]`` each, a partition of the nodes.

    Raises:
        ValueError: If the fractions are out of range.

    Examples:
        >>> import numpy as np
        >>> tr, va, te = random_split(1000, np.random.default_rng(0), 0.1, 0.2)
        >>> int(tr.sum()), int(va.sum()), int(te.sum())
        (100, 200, 700)
    """
    _check_fractions(train_fraction, val_fraction)
    perm = rng.permutation(num_nodes)
    n_train = round(num_nodes * train_fraction)
    n_val = min(round(num_nodes * val_fraction), num_nodes - n_train)
    masks = np.zeros((3, num_nodes), dtype=bool)
    masks[0, perm[:n_train]] = True
    masks[1, perm[n_train : n_train + n_val]] = True
    masks[2, perm[n_train + n_val :]] = True
    return masks[0], masks[1], masks[2]


def _check_fractions(train_fraction: float, val_fraction: float) -> None:
    _check(
        0.0 <= train_fraction <= 1.0 and 0.0 <= val_fraction <= 1.0,
        f"split fractions must lie in [0, 1], got train {train_fraction}, val {val_fraction}.",
    )
    _check(
        train_fraction + val_fraction <= 1.0,
        f"train and val fractions must sum to at most 1, got {train_fraction} + {val_fraction}.",
    )


def _check_split(split: str | tuple[float, float]) -> None:
    if isinstance(split, str):
        _check(split == "planetoid", f"split must be 'planetoid' or (train, val), got {split!r}.")
        return
    if not (isinstance(split, tuple | list) and len(split) == 2):
        raise TypeError(
            f"split must be 'planetoid' or a (train_fraction, val_fraction) pair, got {split!r}."
        )
    _check_fractions(*split)


def contextual_sbm(
    num_nodes: int = 2708,
    num_classes: int = 7,
    num_features: int = 256,
    avg_degree: float = 4.0,
    homophily: float = 0.8,
    feature_noise: float = 1.0,
    seed: int = 0,
    *,
    split: str | tuple[float, float] = "planetoid",
) -> NodeDataset:
    """Samples a contextual stochastic block model (CSBM) node-classification dataset.

    Host-side NumPy. A CSBM (Deshpande et al., "Contextual Stochastic Block Models", NeurIPS
    2018) couples a block-model graph with Gaussian features whose mean depends on the class:

    * labels are balanced and in random order: each class gets ``N // C`` or ``N // C + 1``
      nodes;
    * ``round(N * avg_degree / 2)`` edges are proposed; each picks a uniform node ``u`` and,
      with probability ``homophily``, a uniform node ``v`` of ``u``'s class, otherwise a uniform
      node of another class. Edges are then made undirected, self loops dropped and duplicates
      merged, so the mean degree is ``avg_degree`` up to those few removals and the edge
      homophily is ``homophily`` (when ``C > 1``);
    * features are ``mu[label] + feature_noise * eps`` with ``eps ~ N(0, I)`` and class means
      ``mu`` drawn once from ``N(0, I)`` and rescaled to norm 2. Features alone are weak at
      the defaults, so models that average over neighbours clearly win: on the defaults a
      2-layer GCN reaches roughly 87-92% test accuracy and a feature-only MLP 33-39%;
    * the split is :func:`planetoid_like_split` (20 per class / 500 / 1000 when large enough),
      or with ``split=(train_fraction, val_fraction)`` :func:`random_split` (the graph and the
      features do not depend on ``split``).

    Unlike the analysed model, edges are proposed by count rather than by independent pair
    probabilities, which keeps generation linear in the number of edges.

    Args:
        num_nodes: Number of nodes ``N``.
        num_classes: Number of classes ``C``, ``1 <= C <= N``.
        num_features: Feature width ``F >= 1``.
        avg_degree: Target mean degree (each undirected edge counts once per endpoint).
        homophily: Probability that an edge joins two nodes of the same class, in ``[0, 1]``.
        feature_noise: Standard deviation of the Gaussian noise added to the class means.
        seed: Seed for ``np.random.default_rng``.
        split: ``"planetoid"`` or a ``(train_fraction, val_fraction)`` pair.

    Returns:
        A :class:`NodeDataset` named ``"csbm"``: features float32 ``[N, F]``, labels int32
        ``[N]``, int32 senders/receivers sorted by receiver, bool masks.

    Raises:
        ValueError: If an argument is out of range (the message gives the value).
        TypeError: If ``split`` is neither a string nor a pair.

    Examples:
        >>> ds = contextual_sbm(num_nodes=1000, num_classes=4, num_features=16, seed=1)
        >>> ds.graph.nodes.shape, ds.num_classes, int(ds.train_mask.sum())
        ((1000, 16), 4, 80)
    """
    _check(num_nodes >= 1, f"num_nodes must be >= 1, got {num_nodes}.")
    _check(
        1 <= num_classes <= num_nodes,
        f"num_classes must be in [1, num_nodes={num_nodes}], got {num_classes}.",
    )
    _check(num_features >= 1, f"num_features must be >= 1, got {num_features}.")
    _check(avg_degree >= 0, f"avg_degree must be >= 0, got {avg_degree}.")
    _check(0.0 <= homophily <= 1.0, f"homophily must be in [0, 1], got {homophily}.")
    _check(feature_noise >= 0, f"feature_noise must be >= 0, got {feature_noise}.")
    _check_split(split)
    seeds = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seeds)
    n, c = int(num_nodes), int(num_classes)

    labels = rng.permutation(np.arange(n, dtype=np.int64) % c)
    order = np.argsort(labels, kind="stable")  # node ids grouped by class
    counts = np.bincount(labels, minlength=c)
    starts = np.cumsum(counts) - counts

    m = round(n * avg_degree / 2)
    u = rng.integers(0, n, size=m)
    cu = labels[u]
    # Other-class nodes exist unless C == 1; then every edge stays inside the class.
    same = (rng.random(m) < homophily) | (counts[cu] == n)
    pick = rng.random(m)
    pool = np.where(same, counts[cu], n - counts[cu])
    r = np.minimum((pick * pool).astype(np.int64), pool - 1)
    # Same class: offset into the class block. Other class: skip over the class block.
    idx = np.where(same, starts[cu] + r, r + counts[cu] * (r >= starts[cu]))
    v = order[idx]
    senders, receivers = undirected_coalesced(u, v, n)

    means = rng.standard_normal((c, num_features))
    means *= _MEAN_NORM / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    x = _class_gaussians(seeds, labels, means.astype(np.float32), feature_noise)

    if split == "planetoid":
        train, val, test = planetoid_like_split(labels, c, rng)
    else:
        train, val, test = random_split(n, rng, *split)
    return NodeDataset(
        graph=build_graph(x, senders, receivers),
        labels=labels.astype(np.int32),
        train_mask=train,
        val_mask=val,
        test_mask=test,
        num_classes=c,
        name="csbm",
    )


def scaling_csbm(
    num_nodes: int,
    avg_degree: float = 10.0,
    *,
    num_classes: int = 10,
    num_features: int = 64,
    homophily: float = 0.8,
    feature_noise: float = 1.0,
    split: tuple[float, float] = (0.1, 0.1),
    seed: int = 0,
) -> NodeDataset:
    """A CSBM for scaling studies: fixed expected degree, fractional split, any size.

    Host-side NumPy. :func:`contextual_sbm` with defaults for large graphs: the expected degree
    stays ``avg_degree`` whatever ``num_nodes`` is, and the split is random by fractions
    (default 10% train, 10% validation, 80% test) so that every mini-batch or partition holds
    training nodes. :data:`SCALING_SIZES` lists the sizes of the GNNAutoScale runs (100k, 1M,
    4M nodes). Measured on a shared 2-core machine with degree 10 and 64 features: 0.3 s for
    100k nodes, 4 s for 1M nodes, 15 s for 4M nodes (40M directed edges).

    Args:
        num_nodes: Number of nodes ``N``.
        avg_degree: Expected mean degree (an undirected edge counts once per endpoint), so the
            graph holds about ``N * avg_degree`` directed edges.
        num_classes: Number of classes.
        num_features: Feature width.
        homophily: Probability that an edge joins two nodes of the same class.
        feature_noise: Standard deviation of the Gaussian feature noise.
        split: ``(train_fraction, val_fraction)``; the other nodes are test nodes.
        seed: Seed; the same seed gives the same dataset on every machine.

    Returns:
        A :class:`NodeDataset` named ``"csbm"``.

    Raises:
        ValueError: If an argument is out of range.

    Examples:
        >>> ds = scaling_csbm(20_000, avg_degree=8.0, num_features=16, seed=1)
        >>> ds.num_nodes, round(ds.num_edges / ds.num_nodes), int(ds.train_mask.sum())
        (20000, 8, 2000)
    """
    return contextual_sbm(
        num_nodes=num_nodes,
        num_classes=num_classes,
        num_features=num_features,
        avg_degree=avg_degree,
        homophily=homophily,
        feature_noise=feature_noise,
        seed=seed,
        split=split,
    )


def power_law_graph(
    num_nodes: int,
    avg_degree: float = 10.0,
    exponent: float = 2.5,
    seed: int = 0,
    num_features: int = 0,
) -> jraph.GraphsTuple:
    """Samples a Chung-Lu graph whose expected degrees follow a power law.

    Host-side NumPy. Node ``i`` (ids shuffled) gets weight ``w_i = (i + 1) ** (-1 / (exponent
    - 1))``, so the weights, and hence the expected degrees, have a power-law tail
    ``P(k) ~ k ** -exponent`` (Chung and Lu, "Connected components in random graphs with given
    expected degree sequences", 2002). ``round(N * avg_degree / 2)`` edges are drawn with both
    endpoints sampled proportionally to ``w`` (the fast multigraph form of the model); edges are
    then made undirected, self loops dropped and duplicates merged. Merging removes some
    repeated hub-to-hub edges, so extra rounds top the edge count back up (at most 8 rounds);
    the mean degree then lands within a few percent of ``avg_degree`` unless the graph is too
    small to hold that many distinct edges.

    Args:
        num_nodes: Number of nodes ``N >= 1``.
        avg_degree: Target mean degree.
        exponent: Power-law exponent of the degree distribution, ``> 1`` (2 to 3 is typical of
            real networks; smaller means heavier hubs).
        seed: Seed for ``np.random.default_rng``.
        num_features: Width ``F`` of random standard-normal node features; with 0 (default)
            ``nodes`` is an empty float32 ``[N, 0]`` array so that ``N`` stays readable.

    Returns:
        A single ``jraph.GraphsTuple``: nodes float32 ``[N, F]``, int32 senders/receivers
        ``[E]`` sorted by receiver, ``n_node=[N]``, ``n_edge=[E]``, ``edges``/``globals`` None.

    Raises:
        ValueError: If an argument is out of range.

    Examples:
        >>> g = power_law_graph(10_000, avg_degree=8.0, seed=0)
        >>> deg = np.bincount(g.receivers, minlength=10_000)
        >>> bool(abs(deg.mean() - 8.0) < 0.5), bool(deg.max() > 20 * deg.mean())
        (True, True)
    """
    _check(num_nodes >= 1, f"num_nodes must be >= 1, got {num_nodes}.")
    _check(avg_degree >= 0, f"avg_degree must be >= 0, got {avg_degree}.")
    _check(exponent > 1, f"exponent must be > 1, got {exponent}.")
    _check(num_features >= 0, f"num_features must be >= 0, got {num_features}.")
    rng = np.random.default_rng(seed)
    n = int(num_nodes)
    weights = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / (exponent - 1.0))
    prob = weights[rng.permutation(n)]
    prob /= prob.sum()
    ids = np.arange(n, dtype=np.int32)

    def sample_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
        # 2k i.i.d. endpoints drawn proportionally to `prob`: multinomial counts in a random
        # order, which is distributed like independent draws and avoids a binary search each.
        ends = np.repeat(ids, rng.multinomial(2 * k, prob))
        rng.shuffle(ends)
        return ends[:k], ends[k:]

    target = min(round(n * avg_degree / 2), n * (n - 1) // 2)  # undirected edges wanted
    senders = receivers = np.zeros(0, dtype=np.int32)
    for _ in range(8):
        missing = target - senders.shape[0] // 2
        if missing <= max(0, target // 200):  # within 0.5%
            break
        u, v = sample_pairs(missing)
        senders, receivers = undirected_coalesced(
            np.concatenate([senders, u]), np.concatenate([receivers, v]), n
        )
    x = rng.standard_normal((n, num_features), dtype=np.float32)
    return build_graph(x, senders, receivers)
