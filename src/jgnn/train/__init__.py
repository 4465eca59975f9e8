"""Training loops, optimizers and reports."""

from jgnn.train._memory import peak_memory as peak_memory
from jgnn.train._node_classification import FitResult as FitResult
from jgnn.train._node_classification import adam_l2 as adam_l2
from jgnn.train._node_classification import fit_node_classifier as fit_node_classifier
from jgnn.train._recipe import train_recipe as train_recipe

__all__ = ["FitResult", "adam_l2", "fit_node_classifier", "peak_memory", "train_recipe"]
