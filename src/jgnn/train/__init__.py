"""Training loops, optimizers, precision, devices, checkpoints and reports.

Full-batch: :func:`fit_full_graph` (precision :class:`Policy`, loss scaling, checkpoints with
exact resume) and :func:`fit_node_classifier` (its float32 form), with the recipe glue
:func:`train_recipe`. Mini-batch: :func:`fit_minibatch` (one jitted step per padded batch of a
``jgnn.loader.Loader``, exact evaluation with :class:`ExactEvaluator`), the batch sources of a
:class:`SamplerConfig` and :func:`train_minibatch_recipe`. GNNAutoScale: :func:`fit_gas` and
:func:`train_gas_recipe`; on several devices with one shared set of histories,
:func:`fit_gas_parallel` (:class:`GASParallelStep`). Several devices and processes:
:func:`data_parallel_step`, :func:`shard_full_graph`, :func:`initialize_distributed`.
Checkpoints: :class:`Checkpointer`.
"""

from jgnn.train._checkpoint import Checkpointer as Checkpointer
from jgnn.train._checkpoint import CheckpointError as CheckpointError
from jgnn.train._checkpoint import Restored as Restored
from jgnn.train._checkpoint import config_hash as config_hash
from jgnn.train._distributed import agree_rung as agree_rung
from jgnn.train._distributed import (
    assert_same_across_processes as assert_same_across_processes,
)
from jgnn.train._distributed import initialize_distributed as initialize_distributed
from jgnn.train._distributed import process_shard as process_shard
from jgnn.train._distributed import take_batches as take_batches
from jgnn.train._evaluate import ExactEvaluator as ExactEvaluator
from jgnn.train._fit import default_loss_scale as default_loss_scale
from jgnn.train._fit import fit_full_graph as fit_full_graph
from jgnn.train._fit import fit_node_classifier as fit_node_classifier
from jgnn.train._fit import masked_accuracy as masked_accuracy
from jgnn.train._gas import fit_gas as fit_gas
from jgnn.train._gas import train_gas_recipe as train_gas_recipe
from jgnn.train._gas_parallel import GASParallelStep as GASParallelStep
from jgnn.train._gas_parallel import fit_gas_parallel as fit_gas_parallel
from jgnn.train._loss_scale import LossScale as LossScale
from jgnn.train._loss_scale import LossScaleState as LossScaleState
from jgnn.train._loss_scale import all_finite as all_finite
from jgnn.train._loss_scale import dynamic_loss_scale as dynamic_loss_scale
from jgnn.train._loss_scale import no_loss_scale as no_loss_scale
from jgnn.train._loss_scale import static_loss_scale as static_loss_scale
from jgnn.train._measure import compile_clock as compile_clock
from jgnn.train._measure import measure_training as measure_training
from jgnn.train._measure import memory_window as memory_window
from jgnn.train._measure import run_isolated as run_isolated
from jgnn.train._memory import peak_memory as peak_memory
from jgnn.train._minibatch import fit_minibatch as fit_minibatch
from jgnn.train._minibatch import forward_batch as forward_batch
from jgnn.train._minibatch import training_labels as training_labels
from jgnn.train._minibatch_recipe import train_minibatch_recipe as train_minibatch_recipe
from jgnn.train._optimizer import adam_l2 as adam_l2
from jgnn.train._parallel import common_rung as common_rung
from jgnn.train._parallel import data_mesh as data_mesh
from jgnn.train._parallel import data_parallel_step as data_parallel_step
from jgnn.train._parallel import put_global as put_global
from jgnn.train._parallel import replicate as replicate
from jgnn.train._parallel import shard_batch as shard_batch
from jgnn.train._parallel import shard_full_graph as shard_full_graph
from jgnn.train._parallel import stack_batches as stack_batches
from jgnn.train._precision import PRECISION_POLICIES as PRECISION_POLICIES
from jgnn.train._precision import Policy as Policy
from jgnn.train._precision import apply_policy as apply_policy
from jgnn.train._precision import precision_policy as precision_policy
from jgnn.train._profile import PROFILE_CONFIGS as PROFILE_CONFIGS
from jgnn.train._profile import ProfileSettings as ProfileSettings
from jgnn.train._profile import load_profile_dataset as load_profile_dataset
from jgnn.train._profile import profile_training as profile_training
from jgnn.train._recipe import recipe_fit_args as recipe_fit_args
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
from jgnn.train._step import FullGraphBatch as FullGraphBatch
from jgnn.train._step import TrainState as TrainState
from jgnn.train._step import cross_entropy_sum as cross_entropy_sum
from jgnn.train._step import full_graph_loss as full_graph_loss
from jgnn.train._step import init_train_state as init_train_state
from jgnn.train._step import make_train_step as make_train_step
from jgnn.train._step import merge_model as merge_model
from jgnn.train._step import predict as predict
from jgnn.train._step import sampled_loss as sampled_loss

__all__ = [
    "LOADERS",
    "PRECISION_POLICIES",
    "CheckpointError",
    "Checkpointer",
    "ExactEvaluator",
    "FitResult",
    "FullGraphBatch",
    "GASParallelStep",
    "LossScale",
    "LossScaleState",
    "Policy",
    "Restored",
    "SamplerConfig",
    "TrainState",
    "WeightedBatches",
    "adam_l2",
    "agree_rung",
    "all_finite",
    "apply_policy",
    "assert_same_across_processes",
    "check_sampler_options",
    "common_rung",
    "config_hash",
    "cross_entropy_sum",
    "data_mesh",
    "data_parallel_step",
    "default_loss_scale",
    "dynamic_loss_scale",
    "fit_full_graph",
    "fit_gas",
    "fit_gas_parallel",
    "fit_minibatch",
    "fit_node_classifier",
    "forward_batch",
    "full_graph_loss",
    "gcn_normalized_edges",
    "init_train_state",
    "initialize_distributed",
    "make_source",
    "make_train_step",
    "masked_accuracy",
    "merge_model",
    "no_loss_scale",
    "peak_memory",
    "precision_policy",
    "predict",
    "process_shard",
    "put_global",
    "recipe_fit_args",
    "recipe_hparams",
    "replicate",
    "resolve_recipe",
    "sampled_loss",
    "shard_batch",
    "shard_full_graph",
    "stack_batches",
    "static_loss_scale",
    "take_batches",
    "train_gas_recipe",
    "train_minibatch_recipe",
    "train_recipe",
    "training_labels",
    "compile_clock",
    "measure_training",
    "memory_window",
    "run_isolated",
    "PROFILE_CONFIGS",
    "ProfileSettings",
    "load_profile_dataset",
    "profile_training",
]
