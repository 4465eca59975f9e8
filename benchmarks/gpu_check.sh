#!/usr/bin/env bash
# GPU check of the Pallas kernels, in one call on a lent GPU machine (see benchmarks/RESULTS.md):
#   1. the kernel tests compiled with Triton (not interpreted): tests/pallas_kernels picks
#      interpret=False when JAX's default backend is a GPU;
#   2. the benchmark, one table (about 5 minutes on an H200).
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

for mod in pytest hypothesis; do
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

if [ -z "${SKIP_BENCH:-}" ]; then
  echo "== benchmark"
  start=$(date +%s)
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
  $PY benchmarks/bench_kernels_gpu.py ${BENCH_ARGS:-}
  echo "benchmark: exit $? in $(( $(date +%s) - start )) s"
fi
exit $status
