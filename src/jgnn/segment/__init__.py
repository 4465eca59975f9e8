"""jgnn.segment: segment reductions, the ground floor of message passing.

They reduce the rows of ``data`` that share a segment id.

These are the aggregation primitives of every message-passing layer: ``segment_sum(msg,
receivers, num_nodes)`` sums the messages arriving at each node. All reducers share one contract:

* ``data`` has shape ``[E] + feature_shape`` and ``segment_ids`` shape ``[E]`` (any integer
  dtype); results have shape ``[num_segments] + feature_shape`` (``segment_softmax`` keeps the
  shape of its input).
* ``num_segments`` fixes the output shape, so it must be a static Python ``int``, never a traced
  value.
* Empty segments reduce to ``0`` for every reducer (``max``/``min`` give ``0``, not ``-inf``/
  ``+inf``, and ``prod`` gives ``0``, not the empty product ``1``, as DGL does for zero-degree
  nodes).
* ``bfloat16``/``float16`` inputs accumulate in ``float32`` and the result is cast back to the
  input dtype. ``max``/``min`` are exact in any dtype and run in the input dtype.
* Ids outside ``[0, num_segments)`` (negative ones included) are silently dropped, as in
  ``jax.ops.segment_sum``. Nothing here checks ids: validate graphs with ``jgnn.check_graph``
  (outside ``jit``) or its checkified twin.
* ``indices_are_sorted=True`` promises ids in non-decreasing order and is passed to XLA, which
  may pick a faster scatter; a wrong promise gives undefined results.

The one table of reducer names is :data:`REDUCERS` (name -> reducer); :func:`segment_reduce`
applies one by name. Every aggregation in jgnn (``propagate``'s ``aggregate``, DGL-style
``reduce``, PyG-style ``aggr``) resolves its name here.
"""

from jgnn.segment._extrema import segment_max as segment_max
from jgnn.segment._extrema import segment_min as segment_min
from jgnn.segment._moments import segment_std as segment_std
from jgnn.segment._moments import segment_var as segment_var
from jgnn.segment._prod import segment_prod as segment_prod
from jgnn.segment._reduce import REDUCERS as REDUCERS
from jgnn.segment._reduce import segment_reduce as segment_reduce
from jgnn.segment._softmax import segment_logsumexp as segment_logsumexp
from jgnn.segment._softmax import segment_softmax as segment_softmax
from jgnn.segment._sum import segment_count as segment_count
from jgnn.segment._sum import segment_mean as segment_mean
from jgnn.segment._sum import segment_sum as segment_sum

__all__ = [
    "REDUCERS",
    "segment_count",
    "segment_logsumexp",
    "segment_max",
    "segment_mean",
    "segment_min",
    "segment_prod",
    "segment_reduce",
    "segment_softmax",
    "segment_std",
    "segment_sum",
    "segment_var",
]
