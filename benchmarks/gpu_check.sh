#!/usr/bin/env bash
# GPU check, in one call on a lent GPU machine (see benchmarks/RESULTS.md):
#   1. the kernel tests compiled with Triton (not interpreted): tests/pallas_kernels picks
#      interpret=False when JAX's default backend is a GPU;
#   2. jgnn's own suite on the GPU (graph, segment, sparse, ops, message_passing, nn, models;
#      not the peers or slow tests), JGNN_SUITE=0 skips it;
#   3. the benchmark, one table (about 5 minutes on an H200).
# Prints everything; exits non-zero when the tests fail (the benchmark still runs).
#
#   bash benchmarks/gpu_check.sh                 # tests + full benchmark
#   BENCH_ARGS="--graphs arxiv" bash benchmarks/gpu_check.sh
#   SKIP_BENCH=1 bash benchmarks/gpu_check.sh    # tests only
#
# The lent machine has jax, flax, optax, chex, torch and torch_geometric but may lack pytest or
# hypothesis and cannot download: carry wheels and point PIP_FIND_LINKS at them, e.g.
#   PIP_FIND_LINKS=shared/wheels bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}

echo "== machine"
date -u
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
$PY - <<'EOF'
import sys, jax
print("python", sys.version.split()[0], "| jax", jax.__version__, "| jaxlib", jax.lib.__version__)
print("devices:", jax.devices())
EOF

for mod in pytest hypothesis jraph numba pymetis grain; do
  if ! $PY -c "import $mod" 2>/dev/null; then
    if [ -n "${PIP_FIND_LINKS:-}" ]; then
      $PY -m pip install --no-index --find-links "$PIP_FIND_LINKS" "$mod" || true
    else
      echo "note: $mod is missing; carry its wheel and set PIP_FIND_LINKS"
    fi
  fi
done

echo "== kernel tests (compiled with Triton on a GPU; the interpreter on a CPU)"
start=$(date +%s)
$PY -m pytest tests/pallas_kernels -q -rA -p no:cacheprovider \
  -W "ignore:The Pallas Triton backend is deprecated:DeprecationWarning"
status=$?
echo "tests: exit $status in $(( $(date +%s) - start )) s"

if [ "${JGNN_SUITE:-1}" != 0 ]; then
  echo "== jgnn suite on $($PY -c 'import jax; print(jax.default_backend())')"
  start=$(date +%s)
  PYTHONPATH="$PWD/src:$PYTHONPATH" $PY -m pytest -q -p no:cacheprovider -m "not peers and not slow" \
    tests/graph tests/segment tests/sparse tests/ops tests/message_passing tests/nn tests/models
  suite=$?
  echo "suite: exit $suite in $(( $(date +%s) - start )) s"
  [ "$suite" -ne 0 ] && status=$suite
fi

if [ -z "${SKIP_BENCH:-}" ]; then
  echo "== benchmark"
  start=$(date +%s)
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
  $PY benchmarks/bench_kernels_gpu.py ${BENCH_ARGS:-}
  echo "benchmark: exit $? in $(( $(date +%s) - start )) s"
fi
exit $status
