"""Training loops, optimizers and reports.

Full-batch: :func:`fit_node_classifier` and its recipe glue :func:`train_recipe`. Mini-batch:
:func:`fit_minibatch` (one jitted step per padded batch of a ``jgnn.loader.Loader``, exact
evaluation with :class:`ExactEvaluator`), the batch sources of a :class:`SamplerConfig`
(:func:`make_source`, :class:`WeightedBatches`) and its recipe glue
:func:`train_minibatch_recipe`.
"""

from jgnn.train._evaluate import ExactEvaluator as ExactEvaluator
from jgnn.train._fit import fit_node_classifier as fit_node_classifier
from jgnn.train._memory import peak_memory as peak_memory
from jgnn.train._minibatch import fit_minibatch as fit_minibatch
from jgnn.train._minibatch import forward_batch as forward_batch
from jgnn.train._minibatch import training_labels as training_labels
from jgnn.train._minibatch_recipe import train_minibatch_recipe as train_minibatch_recipe
from jgnn.train._optimizer import adam_l2 as adam_l2
from jgnn.train._recipe import recipe_hparams as recipe_hparams
from jgnn.train._recipe import resolve_recipe as resolve_recipe
from jgnn.train._recipe import train_recipe as train_recipe
from jgnn.train._result import FitResult as FitResult
from jgnn.train._sampler_config import LOADERS as LOADERS
from jgnn.train._sampler_config import SamplerConfig as SamplerConfig
from jgnn.train._sampler_config import check_sampler_options as check_sampler_options
from jgnn.train._sources import WeightedBatches as WeightedBatches
from jgnn.train._sources import gcn_normalized_edges as gcn_normalized_edges
from jgnn.train._sources import make_source as make_source

__all__ = [
    "LOADERS",
    "ExactEvaluator",
    "FitResult",
    "SamplerConfig",
    "WeightedBatches",
    "adam_l2",
    "check_sampler_options",
    "fit_minibatch",
    "fit_node_classifier",
    "forward_batch",
    "gcn_normalized_edges",
    "make_source",
    "peak_memory",
    "recipe_hparams",
    "resolve_recipe",
    "train_minibatch_recipe",
    "train_recipe",
    "training_labels",
]

from jgnn.train._gas import fit_gas as fit_gas  # noqa: E402 - GNNAutoScale (jgnn.history)
from jgnn.train._gas import train_gas_recipe as train_gas_recipe  # noqa: E402

__all__ += ["fit_gas", "train_gas_recipe"]

# Training at scale (issue 12): precision policies and loss scaling, the pure step, several
# devices and processes, checkpoints with exact resume.
from jgnn.train._checkpoint import Checkpointer as Checkpointer  # noqa: E402
from jgnn.train._checkpoint import CheckpointError as CheckpointError  # noqa: E402
from jgnn.train._checkpoint import Restored as Restored  # noqa: E402
from jgnn.train._checkpoint import config_hash as config_hash  # noqa: E402
from jgnn.train._distributed import agree_rung as agree_rung  # noqa: E402
from jgnn.train._distributed import (  # noqa: E402
    assert_same_across_processes as assert_same_across_processes,
)
from jgnn.train._distributed import initialize_distributed as initialize_distributed  # noqa: E402
from jgnn.train._distributed import process_shard as process_shard  # noqa: E402
from jgnn.train._distributed import take_batches as take_batches  # noqa: E402
from jgnn.train._fit import default_loss_scale as default_loss_scale  # noqa: E402
from jgnn.train._fit import fit_full_graph as fit_full_graph  # noqa: E402
from jgnn.train._fit import masked_accuracy as masked_accuracy  # noqa: E402
from jgnn.train._loss_scale import LossScale as LossScale  # noqa: E402
from jgnn.train._loss_scale import LossScaleState as LossScaleState  # noqa: E402
from jgnn.train._loss_scale import all_finite as all_finite  # noqa: E402
from jgnn.train._loss_scale import dynamic_loss_scale as dynamic_loss_scale  # noqa: E402
from jgnn.train._loss_scale import no_loss_scale as no_loss_scale  # noqa: E402
from jgnn.train._loss_scale import static_loss_scale as static_loss_scale  # noqa: E402
from jgnn.train._parallel import common_rung as common_rung  # noqa: E402
from jgnn.train._parallel import data_mesh as data_mesh  # noqa: E402
from jgnn.train._parallel import data_parallel_step as data_parallel_step  # noqa: E402
from jgnn.train._parallel import put_global as put_global  # noqa: E402
from jgnn.train._parallel import replicate as replicate  # noqa: E402
from jgnn.train._parallel import shard_batch as shard_batch  # noqa: E402
from jgnn.train._parallel import shard_full_graph as shard_full_graph  # noqa: E402
from jgnn.train._parallel import stack_batches as stack_batches  # noqa: E402
from jgnn.train._precision import PRECISION_POLICIES as PRECISION_POLICIES  # noqa: E402
from jgnn.train._precision import Policy as Policy  # noqa: E402
from jgnn.train._precision import apply_policy as apply_policy  # noqa: E402
from jgnn.train._precision import precision_policy as precision_policy  # noqa: E402
from jgnn.train._step import FullGraphBatch as FullGraphBatch  # noqa: E402
from jgnn.train._step import TrainState as TrainState  # noqa: E402
from jgnn.train._step import cross_entropy_sum as cross_entropy_sum  # noqa: E402
from jgnn.train._step import full_graph_loss as full_graph_loss  # noqa: E402
from jgnn.train._step import init_train_state as init_train_state  # noqa: E402
from jgnn.train._step import make_train_step as make_train_step  # noqa: E402
from jgnn.train._step import merge_model as merge_model  # noqa: E402
from jgnn.train._step import predict as predict  # noqa: E402
from jgnn.train._step import sampled_loss as sampled_loss  # noqa: E402

__all__ += [
    "PRECISION_POLICIES",
    "CheckpointError",
    "Checkpointer",
    "FullGraphBatch",
    "LossScale",
    "LossScaleState",
    "Policy",
    "Restored",
    "TrainState",
    "agree_rung",
    "all_finite",
    "apply_policy",
    "assert_same_across_processes",
    "common_rung",
    "config_hash",
    "cross_entropy_sum",
    "data_mesh",
    "data_parallel_step",
    "default_loss_scale",
    "dynamic_loss_scale",
    "fit_full_graph",
    "full_graph_loss",
    "init_train_state",
    "initialize_distributed",
    "make_train_step",
    "masked_accuracy",
    "merge_model",
    "no_loss_scale",
    "precision_policy",
    "predict",
    "process_shard",
    "put_global",
    "replicate",
    "sampled_loss",
    "shard_batch",
    "shard_full_graph",
    "stack_batches",
    "static_loss_scale",
    "take_batches",
]
