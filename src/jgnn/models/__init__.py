"""Ready-made GNN models and the paper recipes used to train them."""

from jgnn.models._appnp import APPNPNet as APPNPNet
from jgnn.models._basic_gnn import GAT as GAT
from jgnn.models._basic_gnn import GCN as GCN
from jgnn.models._basic_gnn import GIN as GIN
from jgnn.models._basic_gnn import BasicGNN as BasicGNN
from jgnn.models._basic_gnn import GraphSAGE as GraphSAGE
from jgnn.models._gcn2 import GCNII as GCNII
from jgnn.models._layerwise import layerwise_predict as layerwise_predict
from jgnn.models._recipes import RECIPES as RECIPES
from jgnn.models._recipes import Recipe as Recipe
from jgnn.models._recipes import prepare_features as prepare_features
from jgnn.models._recipes import prepare_graph as prepare_graph

__all__ = [
    "APPNPNet",
    "GIN",
    "GraphSAGE",
    "RECIPES",
    "BasicGNN",
    "GAT",
    "GCN",
    "GCNII",
    "layerwise_predict",
    "Recipe",
    "prepare_features",
    "prepare_graph",
]
