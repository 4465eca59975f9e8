"""Ready-made GNN models."""

from jgnn.models._gcn import GCN as GCN

__all__ = ["GCN"]
