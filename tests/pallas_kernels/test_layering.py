"""The package's layering (issue 9): plumbing below kernels, kernels below the differentiable
ops, no import cycle, files under 500 lines, and the public names jgnn's dispatcher reads."""

import ast
import pathlib

import pallas_kernels

PACKAGE = pathlib.Path(pallas_kernels.__file__).parent
# Lower layers never import higher ones; a module may import its own layer (no cycle).
LAYERS = {
    "_common": 0,
    "_blocks": 0,
    "_schedule": 0,
    "_spmm_kernel": 1,
    "_sddmm_kernel": 1,
    "_softmax_kernel": 1,
    "_gatv2_grad_kernel": 1,
    "_spmm": 2,
    "_sddmm": 2,
    "_attention": 2,
    "_edge_softmax": 2,
    "_gat": 2,
}


def package_imports(module: str) -> set[str]:
    """Sibling modules that `module` imports (`from . import x`, `from ._x import y`)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_no_module_imports_a_higher_layer_and_there_is_no_cycle():
    graph = {m: package_imports(m) for m in LAYERS}
    for module, deps in graph.items():
        for dep in deps:
            assert LAYERS[dep] <= LAYERS[module], f"{module} (layer {LAYERS[module]}) imports {dep}"
    state: dict[str, int] = {}

    def visit(m, path):
        assert state.get(m) != 1, f"import cycle: {' -> '.join(path + [m])}"
        if state.get(m) == 2:
            return
        state[m] = 1
        for dep in graph[m]:
            visit(dep, path + [m])
        state[m] = 2

    for m in graph:
        visit(m, [])


def test_kernel_modules_hold_no_custom_vjp_and_ops_hold_no_kernel_body():
    for module, layer in LAYERS.items():
        text = (PACKAGE / f"{module}.py").read_text()
        if layer < 2:
            assert "custom_vjp" not in text, module
        else:
            assert "pl.pallas_call" not in text, module


def test_files_stay_under_500_lines():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) < 500, path.name


def test_public_names_for_the_jgnn_dispatcher():
    assert pallas_kernels.SPMM_REDUCES == ("sum", "mean", "max", "min")
    assert pallas_kernels.SDDMM_OPS == ("dot", "add", "mul")
    for name in pallas_kernels.__all__:
        assert getattr(pallas_kernels, name) is not None
    assert {"spmm", "sddmm", "edge_softmax_aggregate", "gat_aggregate", "gatv2_aggregate"} <= set(
        pallas_kernels.__all__
    )
    assert {"BlockSizes", "choose_block_sizes"} <= set(pallas_kernels.__all__)
