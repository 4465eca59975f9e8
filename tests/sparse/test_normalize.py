"""Row, column and GCN normalisation against dense formulas and PyG's gcn_norm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.sparse import SparseTensor, col_normalize, gcn_norm, row_normalize


@pytest.fixture
def adj_dense(helpers):
    rng = np.random.default_rng(0)
    row, col = helpers.random_pattern(rng, 6, 6, 14)
    keep = row != 5  # row 5 empty (zero degree)
    row, col = row[keep], col[keep]
    value = rng.uniform(0.5, 2.0, row.size).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(6, 6))
    return adj, helpers.dense_from(row, col, value, 6, 6)


def _inv(d, p):
    with np.errstate(divide="ignore"):
        out = np.where(d == 0, 0.0, np.abs(d) ** p)
    return out


def test_row_and_col_normalize(adj_dense):
    adj, dense = adj_dense
    got = jax.jit(row_normalize)(adj).to_dense()
    np.testing.assert_allclose(got, dense * _inv(dense.sum(1), -1.0)[:, None], rtol=1e-5)
    np.testing.assert_allclose(got.sum(1)[:5], np.ones(5), rtol=1e-5)
    got = col_normalize(adj).to_dense()
    np.testing.assert_allclose(got, dense * _inv(dense.sum(0), -1.0)[None, :], rtol=1e-5)
    # without values, entries count as 1
    pattern = adj.set_value(None)
    mask = (dense != 0).astype(np.float32)
    np.testing.assert_allclose(
        row_normalize(pattern).to_dense(), mask * _inv(mask.sum(1), -1.0)[:, None], rtol=1e-6
    )


@pytest.mark.parametrize("add_self_loops", [True, False])
def test_gcn_norm_matches_dense(adj_dense, add_self_loops):
    adj, dense = adj_dense
    a = dense.copy()
    if add_self_loops:
        np.fill_diagonal(a, 2.0)  # the diagonal is replaced, not added to
    dis = _inv(a.sum(1), -0.5)
    expected = dis[:, None] * a * dis[None, :]
    fn = lambda x: gcn_norm(x, add_self_loops=add_self_loops, fill_value=2.0)
    got = fn(adj) if add_self_loops else jax.jit(fn)(adj)
    np.testing.assert_allclose(got.to_dense(), expected, rtol=1e-5, atol=1e-7)
    assert np.all(np.isfinite(np.asarray(got.value)))


def test_gcn_norm_gradient_through_values(adj_dense):
    adj, _ = adj_dense
    w = jnp.arange(36.0).reshape(6, 6)

    def loss(v):
        return jnp.sum(gcn_norm(adj.set_value(v), add_self_loops=False).to_dense() * w)

    def oracle(v):
        a = jnp.zeros((6, 6)).at[adj.row, adj.col].set(v)
        deg = a.sum(1)
        dis = jnp.where(deg == 0, 0.0, jnp.where(deg == 0, 1.0, deg) ** -0.5)
        return jnp.sum(dis[:, None] * a * dis[None, :] * w)

    np.testing.assert_allclose(
        jax.jit(jax.grad(loss))(adj.value), jax.jit(jax.grad(oracle))(adj.value), rtol=1e-5
    )


def test_gcn_norm_errors():
    with pytest.raises(ValueError, match="square"):
        gcn_norm(SparseTensor.eye(2, 3))


@pytest.mark.peers
def test_gcn_norm_matches_pyg(adj_dense):
    torch = pytest.importorskip("torch")
    torch_sparse = pytest.importorskip("torch_sparse")
    pyg_gcn = pytest.importorskip("torch_geometric.nn.conv.gcn_conv")
    adj, _ = adj_dense
    row, col, value = (np.array(t) for t in adj.coo())
    t_adj = torch_sparse.SparseTensor(
        row=torch.from_numpy(row.astype(np.int64)),
        col=torch.from_numpy(col.astype(np.int64)),
        value=torch.from_numpy(np.array(value)),
        sparse_sizes=(6, 6),
    )
    expected = pyg_gcn.gcn_norm(t_adj, add_self_loops=True).to_dense().numpy()
    np.testing.assert_allclose(gcn_norm(adj).to_dense(), expected, rtol=1e-5, atol=1e-7)


def _dense_gcn(adj: np.ndarray, fill: float) -> np.ndarray:
    """D^-1/2 (A + fill I) D^-1/2 with in-degrees (row sums of adj_t); isolated nodes 0."""
    a = adj + fill * np.eye(adj.shape[0])
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return inv[:, None] * a * inv[None, :]


@pytest.mark.parametrize("improved", [False, True])
def test_gcn_norm_is_one_function_for_every_graph_form(improved):
    """An edge list, an edge index and an adj_t give the same operator (a dense oracle)."""
    import jgnn

    rng = np.random.default_rng(3)
    n = 7
    src, dst = np.nonzero((rng.random((n, n)) < 0.3) & ~np.eye(n, dtype=bool))
    w = rng.uniform(0.5, 2.0, src.size).astype(np.float32)
    adj_t = np.zeros((n, n))
    adj_t[dst, src] = w
    want = _dense_gcn(adj_t, 2.0 if improved else 1.0)
    assert jgnn.nn.gcn_norm is gcn_norm
    g = jgnn.from_edge_index(np.stack([src, dst]), n, nodes=jnp.ones((n, 1)))
    for graph in (g, jnp.asarray(np.stack([src, dst]))):
        out = gcn_norm(graph, jnp.asarray(w), num_nodes=n, improved=improved)
        got = np.zeros((n, n))
        np.add.at(got, (np.asarray(out.receivers), np.asarray(out.senders)), np.asarray(out.edges))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    sp = gcn_norm(SparseTensor(dst, src, jnp.asarray(w), (n, n)), improved=improved)
    np.testing.assert_allclose(sp.to_dense(), want, rtol=1e-5, atol=1e-7)


def test_symmetric_norm_against_dense_and_with_an_implicit_loop():
    from jgnn.sparse import symmetric_norm

    src = jnp.array([0, 1, 2, 2])
    dst = jnp.array([1, 2, 0, 1])
    w = jnp.array([1.0, 2.0, 3.0, 0.5])
    out, inv = symmetric_norm(w, src, dst, 4, self_loop=1.0)
    deg = np.array([3.0, 1.5, 2.0, 0.0]) + 1.0
    np.testing.assert_allclose(inv, 1 / np.sqrt(deg), rtol=1e-6)
    want = np.asarray(w) / np.sqrt(deg[np.asarray(src)] * deg[np.asarray(dst)])
    np.testing.assert_allclose(out, want, rtol=1e-6)
    _, inv0 = symmetric_norm(w, src, dst, 4)
    assert inv0[3] == 0.0  # isolated node: weight 0, not inf
