"""jgnn.ops: DGL-style operators (``gspmm``, ``gsddmm``, ``edge_softmax``, ``update_all``,
mailbox reducers) over either graph form.

The segment reducers live one floor down in :mod:`jgnn.segment` and are re-exported here.
"""

from jgnn.ops._edge_softmax import edge_softmax as edge_softmax
from jgnn.ops._gsddmm import gsddmm as gsddmm
from jgnn.ops._gspmm import gspmm as gspmm
from jgnn.ops._mailbox import MailboxBucket as MailboxBucket
from jgnn.ops._mailbox import MailboxPlan as MailboxPlan
from jgnn.ops._mailbox import plan_mailbox as plan_mailbox
from jgnn.ops._mailbox import reduce_mailbox as reduce_mailbox
from jgnn.ops._update_all import EdgeBatch as EdgeBatch
from jgnn.ops._update_all import apply_edges as apply_edges
from jgnn.ops._update_all import update_all as update_all
from jgnn.segment import segment_count as segment_count
from jgnn.segment import segment_logsumexp as segment_logsumexp
from jgnn.segment import segment_max as segment_max
from jgnn.segment import segment_mean as segment_mean
from jgnn.segment import segment_min as segment_min
from jgnn.segment import segment_prod as segment_prod
from jgnn.segment import segment_softmax as segment_softmax
from jgnn.segment import segment_std as segment_std
from jgnn.segment import segment_sum as segment_sum
from jgnn.segment import segment_var as segment_var

__all__ = [
    "EdgeBatch",
    "MailboxBucket",
    "MailboxPlan",
    "apply_edges",
    "edge_softmax",
    "gsddmm",
    "gspmm",
    "plan_mailbox",
    "reduce_mailbox",
    "update_all",
    "segment_count",
    "segment_logsumexp",
    "segment_max",
    "segment_mean",
    "segment_min",
    "segment_prod",
    "segment_softmax",
    "segment_std",
    "segment_sum",
    "segment_var",
]
