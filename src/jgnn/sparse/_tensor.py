"""``SparseTensor``: a sparse adjacency matrix with COO, CSR and CSC views, as a JAX pytree.

The container follows torch_sparse's ``SparseTensor``. Every index buffer is computed once, on
the host, when the tensor is built, and validated there (sorted, in range, int32):

* COO sorted row-major: ``row [nnz]``, ``col [nnz]`` and ``value`` (``None``, ``[nnz]`` or
  ``[nnz, *D]`` for multi-dimensional edge features);
* CSR row pointers ``rowptr [M + 1]`` and CSC column pointers ``colptr [N + 1]``;
* the permutation ``csr2csc [nnz]`` (CSC entry ``k`` is CSR entry ``csr2csc[k]``), its inverse
  ``csc2csr [nnz]``, and the CSC-ordered ids ``csc_row [nnz]`` (``row[csr2csc]``) and
  ``csc_col [nnz]`` (``col[csr2csc]``, non-decreasing).

``sparse_sizes = (M, N)`` is static aux data. Because the transpose's buffers are a relabelling
of the stored ones, ``t()`` and ``csc()`` cost one gather of the values and no sort, inside
``jit`` too. Operations that change the sparsity pattern (construction, slicing, ``set_diag``)
are host-side: they need concrete index buffers, but the values may be traced (traced values
are moved with ``jnp`` gathers, so gradients flow through them; see ``_buffers.py``).

This module holds the container only. Its operator methods (``@``, slicing, ``set_diag``,
``sum``, arithmetic) call functions of sibling modules and are attached to the class by
``_methods.py`` when :mod:`jgnn.sparse` is imported, as JAX attaches ``jax.Array``'s methods:
the operations import the container, never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike, DTypeLike

from jgnn._checks import check_id_range, host_ints, is_traced, static_int
from jgnn.sparse._buffers import INT32_MAX, as_value, coalesce_ids, index_buffers, take_rows

__all__ = ["SparseTensor"]


# --------------------------------------------------------------------------------------------
# Building from host ids
# --------------------------------------------------------------------------------------------


def _build(
    row: np.ndarray, col: np.ndarray, value: Array | None, m: int, n: int, fn: str
) -> SparseTensor:
    """Sort, coalesce (summing duplicate values) and index validated host ids."""
    row, col, value = coalesce_ids(row, col, value, n)
    if row.size > INT32_MAX:
        raise ValueError(f"{fn}: nnz must fit in int32, got {row.size}.")
    return _from_sorted(row, col, value, (m, n))


def _from_sorted(
    row: np.ndarray, col: np.ndarray, value: Array | None, sizes: tuple[int, int]
) -> SparseTensor:
    """A SparseTensor from coalesced row-major host ids (no checks)."""
    buffers = index_buffers(row, col, sizes[0], sizes[1])
    return SparseTensor._from_buffers(value=value, sparse_sizes=sizes, **buffers)


# --------------------------------------------------------------------------------------------


@jax.tree_util.register_pytree_node_class
class SparseTensor:
    """A sparse ``[M, N]`` matrix (optionally with ``[*D]`` values per entry) as a pytree.

    Build it with a constructor (``from_edge_index``, ``from_dense``, ``from_scipy``, ``eye``,
    :func:`to_adj_t`) outside ``jit`` and pass it to jitted functions as an argument: its
    buffers are pytree leaves and ``sparse_sizes`` is static aux data. Calling
    ``SparseTensor(row, col, value, sparse_sizes)`` is the same as ``from_edge_index``.

    Attributes:
      row: int32 ``[nnz]`` row ids, non-decreasing (COO, row-major).
      col: int32 ``[nnz]`` column ids, increasing within each row.
      value: ``None`` (every stored entry is 1), ``[nnz]`` or ``[nnz, *D]``, in CSR order.
      rowptr: int32 ``[M + 1]`` CSR row pointers.
      colptr: int32 ``[N + 1]`` CSC column pointers.
      csr2csc: int32 ``[nnz]``; CSC entry ``k`` is CSR entry ``csr2csc[k]``.
      csc2csr: int32 ``[nnz]``; the inverse permutation.
      csc_row: int32 ``[nnz]``, ``row[csr2csc]`` (row ids in CSC order).
      csc_col: int32 ``[nnz]``, ``col[csr2csc]`` (non-decreasing column ids in CSC order).

    Examples:
      >>> adj = SparseTensor.from_edge_index(jnp.array([[0, 1, 1], [1, 0, 2]]))
      >>> adj.sparse_sizes(), adj.nnz()
      ((2, 3), 3)
      >>> adj.to_dense()
      Array([[0., 1., 0.],
             [1., 0., 1.]], dtype=float32)
    """

    __slots__ = (
        "row",
        "col",
        "value",
        "rowptr",
        "colptr",
        "csr2csc",
        "csc2csr",
        "csc_row",
        "csc_col",
        "_sizes",
    )
    _CHILDREN = __slots__[:-1]

    def __init__(
        self,
        row: ArrayLike,
        col: ArrayLike,
        value: ArrayLike | None = None,
        sparse_sizes: tuple[int, int] | None = None,
    ) -> None:
        built = SparseTensor._coo(row, col, value, sparse_sizes, "SparseTensor")
        for name in SparseTensor.__slots__:
            object.__setattr__(self, name, getattr(built, name))

    # -- pytree -----------------------------------------------------------------------------

    @classmethod
    def _from_buffers(cls, *, sparse_sizes: tuple[int, int], **buffers: Any) -> SparseTensor:
        obj = object.__new__(cls)
        for name in cls._CHILDREN:
            object.__setattr__(obj, name, buffers[name])
        object.__setattr__(obj, "_sizes", (int(sparse_sizes[0]), int(sparse_sizes[1])))
        return obj

    def tree_flatten(self) -> tuple[tuple[Any, ...], tuple[int, int]]:
        return tuple(getattr(self, name) for name in self._CHILDREN), self._sizes

    @classmethod
    def tree_unflatten(cls, aux: tuple[int, int], children: Sequence[Any]) -> SparseTensor:
        obj = object.__new__(cls)
        for name, child in zip(cls._CHILDREN, children, strict=True):
            object.__setattr__(obj, name, child)
        object.__setattr__(obj, "_sizes", aux)
        return obj

    def _replace(self, **changes: Any) -> SparseTensor:
        buffers = {name: getattr(self, name) for name in self._CHILDREN}
        buffers.update(changes)
        return SparseTensor._from_buffers(sparse_sizes=self._sizes, **buffers)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SparseTensor is immutable; use set_value or a constructor.")

    # -- constructors (host-side) -----------------------------------------------------------

    @staticmethod
    def _coo(row, col, value, sparse_sizes, fn) -> SparseTensor:
        row = host_ints(row, f"{fn}: row")
        col = host_ints(col, f"{fn}: col")
        if row.ndim != 1 or row.shape != col.shape:
            raise ValueError(
                f"{fn}: row and col must be 1-D of equal length, got shapes {row.shape} and "
                f"{col.shape}."
            )
        if sparse_sizes is None:
            m = int(row.max()) + 1 if row.size else 0
            n = int(col.max()) + 1 if col.size else 0
        else:
            if len(sparse_sizes) != 2:
                raise ValueError(f"{fn}: sparse_sizes must be (M, N), got {sparse_sizes!r}.")
            m = static_int(sparse_sizes[0], f"{fn}: sparse_sizes[0]", maximum=INT32_MAX)
            n = static_int(sparse_sizes[1], f"{fn}: sparse_sizes[1]", maximum=INT32_MAX)
        if m > INT32_MAX or n > INT32_MAX:
            raise ValueError(f"{fn}: sparse sizes must fit in int32, got ({m}, {n}).")
        check_id_range(row, m, f"{fn}: row", " Check sparse_sizes or the edge index.")
        check_id_range(col, n, f"{fn}: col", " Check sparse_sizes or the edge index.")
        value = as_value(value, row.size, fn)
        return _build(row, col, value, m, n, fn)

    @classmethod
    def from_edge_index(
        cls,
        edge_index: ArrayLike,
        value: ArrayLike | None = None,
        sparse_sizes: tuple[int, int] | None = None,
    ) -> SparseTensor:
        """Builds the matrix with an entry at ``(edge_index[0, e], edge_index[1, e])``.

        Host-side: not jittable (the index buffers are computed with NumPy). ``value`` may be
        a traced array: it is permuted and coalesced with ``jnp`` ops.

        Duplicate ``(row, col)`` pairs are coalesced like torch_sparse: their values are summed;
        without values they become a single entry (the pattern is binary). Use
        :func:`to_adj_t` to keep multi-edge counts for aggregation.

        Args:
          edge_index: integer ``[2, E]`` array.
          value: ``None``, ``[E]`` or ``[E, *D]``.
          sparse_sizes: ``(M, N)`` Python ints; defaults to ``(max(row) + 1, max(col) + 1)``.

        Returns:
          A ``SparseTensor`` of shape ``(M, N)``.

        Raises:
          TypeError: ids are not integers, traced, or sizes are not ints.
          ValueError: shapes disagree or ids are out of range.

        Examples:
          >>> adj = SparseTensor.from_edge_index(jnp.array([[1, 0, 1], [0, 1, 0]]),
          ...                                    jnp.array([1.0, 2.0, 3.0]))
          >>> adj.to_dense()
          Array([[0., 2.],
                 [4., 0.]], dtype=float32)
        """
        fn = "SparseTensor.from_edge_index"
        ei = host_ints(edge_index, f"{fn}: edge_index")
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ValueError(f"{fn}: edge_index must have shape [2, E], got {ei.shape}.")
        return cls._coo(ei[0], ei[1], value, sparse_sizes, fn)

    @classmethod
    def from_dense(cls, mat: ArrayLike, has_value: bool = True) -> SparseTensor:
        """Keeps the nonzero entries of a dense ``[M, N]`` or ``[M, N, *D]`` array.

        Host-side: not jittable. An entry ``(i, j)`` of a ``[M, N, *D]`` array is stored when
        any of its ``D`` components is nonzero.

        Args:
          mat: dense array.
          has_value: keep the values (``True``) or only the pattern (``False``).

        Returns:
          A ``SparseTensor`` of shape ``(M, N)`` with ``value`` ``[nnz, *D]`` or ``None``.

        Raises:
          ValueError: ``mat`` has fewer than two dimensions.
          TypeError: ``mat`` is traced.

        Examples:
          >>> SparseTensor.from_dense(jnp.array([[0.0, 2.0], [3.0, 0.0]])).value
          Array([2., 3.], dtype=float32)
        """
        fn = "SparseTensor.from_dense"
        if is_traced(mat):
            raise TypeError(f"{fn} is host-side and needs a concrete array, got a tracer.")
        host = np.asarray(mat)
        if host.ndim < 2:
            raise ValueError(f"{fn}: mat must have shape [M, N] or [M, N, *D], got {host.shape}.")
        nonzero = host != 0
        if host.ndim > 2:
            nonzero = nonzero.reshape(host.shape[:2] + (-1,)).any(-1)
        row, col = np.nonzero(nonzero)
        value = jnp.asarray(host[row, col]) if has_value else None
        return _from_sorted(row.astype(np.int64), col.astype(np.int64), value, host.shape[:2])

    @classmethod
    def eye(
        cls, n: int, m: int | None = None, *, has_value: bool = True, dtype: DTypeLike = None
    ) -> SparseTensor:
        """The ``[n, m]`` identity (ones on the main diagonal).

        Host-side: not jittable.

        Args:
          n: number of rows.
          m: number of columns (default ``n``).
          has_value: store explicit ones (``True``) or only the pattern.
          dtype: value dtype (default float32).

        Returns:
          A ``SparseTensor`` with ``min(n, m)`` entries.

        Raises:
          TypeError, ValueError: sizes are not non-negative Python ints.

        Examples:
          >>> SparseTensor.eye(2, 3).to_dense()
          Array([[1., 0., 0.],
                 [0., 1., 0.]], dtype=float32)
        """
        n = static_int(n, "SparseTensor.eye: n", maximum=INT32_MAX)
        m = n if m is None else static_int(m, "SparseTensor.eye: m", maximum=INT32_MAX)
        k = np.arange(min(n, m), dtype=np.int64)
        value = jnp.ones(k.shape, dtype or jnp.float32) if has_value else None
        return _from_sorted(k, k, value, (n, m))

    @classmethod
    def from_scipy(cls, mat: Any) -> SparseTensor:
        """Converts any ``scipy.sparse`` matrix or array (duplicates are summed).

        Host-side: not jittable.

        Args:
          mat: a scipy sparse matrix/array of shape ``(M, N)``.

        Returns:
          A ``SparseTensor`` whose ``value`` is ``mat``'s data ``[nnz]``.

        Raises:
          TypeError: ``mat`` is not a scipy sparse matrix.

        Examples:
          >>> import scipy.sparse as sp
          >>> SparseTensor.from_scipy(sp.eye(2, format="csr")).value
          Array([1., 1.], dtype=float32)
        """
        import scipy.sparse as sp

        if not sp.issparse(mat):
            raise TypeError(
                f"SparseTensor.from_scipy expects a scipy.sparse matrix, got {type(mat).__name__}."
            )
        coo = sp.coo_matrix(mat)
        ei = np.stack([coo.row.astype(np.int64), coo.col.astype(np.int64)])
        return cls.from_edge_index(ei, jnp.asarray(coo.data), sparse_sizes=coo.shape)

    # -- accessors and views ----------------------------------------------------------------

    def sparse_sizes(self) -> tuple[int, int]:
        """``(M, N)`` as static Python ints."""
        return self._sizes

    @property
    def shape(self) -> tuple[int, ...]:
        """``(M, N, *D)``: the dense shape (``D`` from multi-dimensional values)."""
        extra = () if self.value is None else tuple(self.value.shape[1:])
        return self._sizes + extra

    def nnz(self) -> int:
        """Number of stored entries (static)."""
        return int(self.row.shape[0])

    def has_value(self) -> bool:
        """Whether explicit values are stored (``False`` means every entry is 1)."""
        return self.value is not None

    @property
    def dtype(self) -> jnp.dtype | None:
        """The value dtype, or ``None`` when there are no values."""
        return None if self.value is None else self.value.dtype

    def coo(self) -> tuple[Array, Array, Array | None]:
        """``(row, col, value)`` in row-major order."""
        return self.row, self.col, self.value

    def csr(self) -> tuple[Array, Array, Array | None]:
        """``(rowptr [M + 1], col [nnz], value)`` in row-major order."""
        return self.rowptr, self.col, self.value

    def csc(self) -> tuple[Array, Array, Array | None]:
        """``(colptr [N + 1], row [nnz], value)`` in column-major order (one value gather)."""
        return self.colptr, self.csc_row, self._csc_value()

    def _csc_value(self) -> Array | None:
        if self.value is None:
            return None
        return take_rows(self.value, self.csr2csc)

    # -- values -----------------------------------------------------------------------------

    def set_value(self, value: ArrayLike | None, layout: str = "coo") -> SparseTensor:
        """Replaces the values, keeping the pattern (jittable).

        Args:
          value: ``None``, ``[nnz]`` or ``[nnz, *D]``.
          layout: order of ``value``: ``"coo"``/``"csr"`` (row-major) or ``"csc"``.

        Returns:
          A new ``SparseTensor``.

        Raises:
          ValueError: wrong leading dimension or unknown layout.

        Examples:
          >>> SparseTensor.eye(2).set_value(jnp.array([2.0, 3.0])).to_dense()
          Array([[2., 0.],
                 [0., 3.]], dtype=float32)
        """
        value = as_value(value, self.nnz(), "SparseTensor.set_value")
        if layout == "csc":
            if value is not None:
                value = take_rows(value, self.csc2csr)
        elif layout not in ("coo", "csr"):
            raise ValueError(f"layout must be 'coo', 'csr' or 'csc', got {layout!r}.")
        return self._replace(value=value)

    def fill_value(self, fill_value: ArrayLike, dtype: DTypeLike = None) -> SparseTensor:
        """Sets every stored value to ``fill_value`` (jittable).

        Args:
          fill_value: a scalar.
          dtype: value dtype (default: that of ``fill_value``, float32 for Python numbers).

        Returns:
          A new ``SparseTensor`` with ``value`` of shape ``[nnz]``.

        Examples:
          >>> SparseTensor.eye(2).fill_value(5.0).value
          Array([5., 5.], dtype=float32)
        """
        if dtype is None and isinstance(fill_value, (int, float)):
            dtype = jnp.float32
        return self._replace(value=jnp.full((self.nnz(),), fill_value, dtype))

    # -- transpose and conversions ----------------------------------------------------------

    def t(self) -> SparseTensor:
        """The ``[N, M]`` transpose: a relabelling of the stored buffers plus one value gather.

        Jittable; ``adj.t().t()`` has the same buffers as ``adj``.

        Returns:
          The ``[N, M]`` ``SparseTensor`` (values ``[nnz, *D]`` permuted to CSC order).

        Examples:
          >>> SparseTensor.from_edge_index(jnp.array([[0], [2]])).t().coo()[0]
          Array([2], dtype=int32)
        """
        return SparseTensor._from_buffers(
            row=self.csc_col,
            col=self.csc_row,
            value=self._csc_value(),
            rowptr=self.colptr,
            colptr=self.rowptr,
            csr2csc=self.csc2csr,
            csc2csr=self.csr2csc,
            csc_row=self.col,
            csc_col=self.row,
            sparse_sizes=(self._sizes[1], self._sizes[0]),
        )

    @property
    def T(self) -> SparseTensor:
        """Alias of :meth:`t`."""
        return self.t()

    def to_dense(self, dtype: DTypeLike = None) -> Array:
        """Dense ``[M, N, *D]`` array (jittable); entries without values are 1.

        Args:
          dtype: result dtype (default: the value dtype, float32 without values).

        Returns:
          The dense matrix.
        """
        value = self.value
        if value is None:
            value = jnp.ones((self.nnz(),), dtype or jnp.float32)
        elif dtype is not None:
            value = value.astype(dtype)
        out = jnp.zeros(self.shape[:2] + tuple(value.shape[1:]), value.dtype)
        return out.at[self.row, self.col].add(value, indices_are_sorted=True, unique_indices=True)

    def to_scipy(self, fmt: str = "csr") -> Any:
        """Converts to a scipy sparse matrix (``"csr"``, ``"csc"`` or ``"coo"``).

        Host-side: not jittable. Entries without values become 1.0.

        Raises:
          NotImplementedError: the values are multi-dimensional (use ``to_dense``).
          ValueError: unknown ``fmt``.
        """
        import scipy.sparse as sp

        if self.value is not None and self.value.ndim > 1:
            raise NotImplementedError(
                f"to_scipy needs scalar values, got value shape {self.value.shape}; use "
                "to_dense() or slice the feature dimension first."
            )
        data = np.ones(self.nnz(), np.float32) if self.value is None else np.asarray(self.value)
        args = (data, np.asarray(self.col), np.asarray(self.rowptr))
        mat = sp.csr_matrix(args, shape=self._sizes)
        if fmt == "csr":
            return mat
        if fmt in ("csc", "coo"):
            return mat.asformat(fmt)
        raise ValueError(f"fmt must be 'csr', 'csc' or 'coo', got {fmt!r}.")

    def to_edge_index(self) -> tuple[Array, Array | None]:
        """``(edge_index [2, nnz], value)`` in row-major order (jittable)."""
        return jnp.stack([self.row, self.col]), self.value

    def __repr__(self) -> str:
        value = "None"
        if self.value is not None:
            value = f"{self.value.dtype}{list(self.value.shape)}"
        return f"SparseTensor(sparse_sizes={self._sizes}, nnz={self.nnz()}, value={value})"
