"""jgnn.history: GNNAutoScale (Fey et al., ICML 2021) — historical embeddings for large graphs.

A mini-batch of METIS parts plus its 1-hop halo runs every layer; the batch nodes' layer
outputs are pushed to per-layer histories, and the halo's inputs are pulled from them, so every
edge is kept while device memory stays bounded by one batch.

* :class:`History`, :func:`init_history`, :func:`pull`, :func:`push`: one history table
  (host NumPy, memory-mapped file or device array) and its pure pull/push functions;
  :func:`history_arrays` / :func:`restore_histories` for checkpoints.
* :class:`GASData`, :class:`GASBatches`, :class:`GASBudget`: the partition in contiguous
  numbering with full-graph edge weights, the batches (a ``jgnn.sampling.BatchSource``) and
  their static padded sizes.
* :class:`GASProgram` (:class:`BasicGNNProgram`, :class:`GCNIIProgram`,
  :class:`APPNPProgram`, :func:`gas_program`), :class:`GASModel`, :func:`gas_forward`: jgnn
  models run layer by layer in GAS mode.
* :func:`run_gas_steps`, :class:`PushWriter`, :func:`pull_to_device`, :func:`forward_halos`,
  :class:`TransferStats`: asynchronous host transfers under the push-before-pull rule.
* :class:`MiniInference`, :func:`mini_inference`: exact layer-wise inference that fills every
  history (evaluation and warm-up).

The training loop is :func:`jgnn.train.fit_gas`.
"""

from jgnn.history._batches import GASBatches as GASBatches
from jgnn.history._batches import GASBudget as GASBudget
from jgnn.history._batches import GASData as GASData
from jgnn.history._forward import GASModel as GASModel
from jgnn.history._forward import batch_graph as batch_graph
from jgnn.history._forward import gas_forward as gas_forward
from jgnn.history._history import STORAGES as STORAGES
from jgnn.history._history import History as History
from jgnn.history._history import history_arrays as history_arrays
from jgnn.history._history import init_history as init_history
from jgnn.history._history import pull as pull
from jgnn.history._history import push as push
from jgnn.history._history import restore_histories as restore_histories
from jgnn.history._inference import MiniInference as MiniInference
from jgnn.history._inference import check_histories as check_histories
from jgnn.history._inference import mini_inference as mini_inference
from jgnn.history._program import APPNPProgram as APPNPProgram
from jgnn.history._program import BasicGNNProgram as BasicGNNProgram
from jgnn.history._program import GASProgram as GASProgram
from jgnn.history._program import GCNIIProgram as GCNIIProgram
from jgnn.history._program import gas_program as gas_program
from jgnn.history._transfer import TRANSFERS as TRANSFERS
from jgnn.history._transfer import PushWriter as PushWriter
from jgnn.history._transfer import TransferStats as TransferStats
from jgnn.history._transfer import forward_halos as forward_halos
from jgnn.history._transfer import pull_to_device as pull_to_device
from jgnn.history._transfer import run_gas_steps as run_gas_steps

__all__ = [
    "STORAGES",
    "TRANSFERS",
    "APPNPProgram",
    "BasicGNNProgram",
    "GASBatches",
    "GASBudget",
    "GASData",
    "GASModel",
    "GASProgram",
    "GCNIIProgram",
    "History",
    "MiniInference",
    "PushWriter",
    "TransferStats",
    "batch_graph",
    "check_histories",
    "forward_halos",
    "gas_forward",
    "gas_program",
    "history_arrays",
    "init_history",
    "mini_inference",
    "pull",
    "pull_to_device",
    "push",
    "restore_histories",
    "run_gas_steps",
]
