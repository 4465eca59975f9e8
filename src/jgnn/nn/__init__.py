"""Graph neural network layers: a pure function and a thin ``nnx.Module`` each.

``gcn_norm`` is :func:`jgnn.sparse.gcn_norm` (one function for every graph form), re-exported.
"""

from jgnn.nn._appnp import APPNP as APPNP
from jgnn.nn._appnp import appnp as appnp
from jgnn.nn._batch_norm import BatchNorm as BatchNorm
from jgnn.nn._batch_norm import batch_norm as batch_norm
from jgnn.nn._cheb import ChebConv as ChebConv
from jgnn.nn._cheb import cheb_conv as cheb_conv
from jgnn.nn._cheb import scaled_laplacian as scaled_laplacian
from jgnn.nn._dropout import dropout_features as dropout_features
from jgnn.nn._edge_conv import EdgeConv as EdgeConv
from jgnn.nn._edge_conv import edge_conv as edge_conv
from jgnn.nn._gat import GATConv as GATConv
from jgnn.nn._gat import gat_conv as gat_conv
from jgnn.nn._gatv2 import GATv2Conv as GATv2Conv
from jgnn.nn._gatv2 import gatv2_conv as gatv2_conv
from jgnn.nn._gcn import GCNConv as GCNConv
from jgnn.nn._gcn import gcn_conv as gcn_conv
from jgnn.nn._gcn2 import GCN2Conv as GCN2Conv
from jgnn.nn._gcn2 import gcn2_beta as gcn2_beta
from jgnn.nn._gcn2 import gcn2_conv as gcn2_conv
from jgnn.nn._gin import GINConv as GINConv
from jgnn.nn._gin import GINEConv as GINEConv
from jgnn.nn._gin import gin_conv as gin_conv
from jgnn.nn._gin import gine_conv as gine_conv
from jgnn.nn._gmm import GMMConv as GMMConv
from jgnn.nn._gmm import gmm_conv as gmm_conv
from jgnn.nn._graph_conv import GraphConv as GraphConv
from jgnn.nn._graph_conv import graph_conv as graph_conv
from jgnn.nn._graph_norm import GraphNorm as GraphNorm
from jgnn.nn._graph_norm import graph_norm as graph_norm
from jgnn.nn._layer_norm import LayerNorm as LayerNorm
from jgnn.nn._layer_norm import layer_norm as layer_norm
from jgnn.nn._linear import linear_on_features as linear_on_features
from jgnn.nn._mlp import MLP as MLP
from jgnn.nn._pna import PNAConv as PNAConv
from jgnn.nn._pna import degree_histogram as degree_histogram
from jgnn.nn._pna import degree_scaler_aggregate as degree_scaler_aggregate
from jgnn.nn._pna import pna_conv as pna_conv
from jgnn.nn._pool import global_add_pool as global_add_pool
from jgnn.nn._pool import global_max_pool as global_max_pool
from jgnn.nn._pool import global_mean_pool as global_mean_pool
from jgnn.nn._rgcn import RGCNConv as RGCNConv
from jgnn.nn._rgcn import rgcn_conv as rgcn_conv
from jgnn.nn._sage import SAGEConv as SAGEConv
from jgnn.nn._sage import sage_conv as sage_conv
from jgnn.nn._sg import SGConv as SGConv
from jgnn.nn._sg import sg_conv as sg_conv
from jgnn.nn._sg import sg_propagate as sg_propagate
from jgnn.nn._transformer_conv import TransformerConv as TransformerConv
from jgnn.nn._transformer_conv import transformer_conv as transformer_conv
from jgnn.sparse import gcn_norm as gcn_norm

__all__ = [
    "RGCNConv",
    "rgcn_conv",
    "PNAConv",
    "degree_histogram",
    "degree_scaler_aggregate",
    "pna_conv",
    "GCN2Conv",
    "gcn2_beta",
    "gcn2_conv",
    "ChebConv",
    "cheb_conv",
    "scaled_laplacian",
    "GMMConv",
    "gmm_conv",
    "TransformerConv",
    "transformer_conv",
    "GATv2Conv",
    "gatv2_conv",
    "GATConv",
    "gat_conv",
    "GCNConv",
    "gcn_conv",
    "gcn_norm",
    "APPNP",
    "appnp",
    "EdgeConv",
    "edge_conv",
    "GINConv",
    "GINEConv",
    "gin_conv",
    "gine_conv",
    "GraphConv",
    "graph_conv",
    "SAGEConv",
    "sage_conv",
    "SGConv",
    "sg_conv",
    "sg_propagate",
    "MLP",
    "dropout_features",
    "linear_on_features",
    "BatchNorm",
    "GraphNorm",
    "LayerNorm",
    "batch_norm",
    "graph_norm",
    "layer_norm",
    "global_add_pool",
    "global_max_pool",
    "global_mean_pool",
]
