"""Test configuration shared by the whole suite.

Four fake CPU devices (so sharding code is testable on one CPU), strict dtype promotion (so an
accidental int/float or f32/bf16 mix fails loudly), full float32 matmuls (the precision of the
dense oracles, also on a GPU) and a bounded hypothesis profile.
"""

import os

import jax

jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_numpy_dtype_promotion", "strict")
# Dense oracles compare in full float32: on NVIDIA GPUs JAX's default float32 matmul uses TF32
# (about 1e-3 relative error), which the 1e-5 tolerances would flag. jgnn itself keeps JAX's
# default; README "Precision" says how users choose.
jax.config.update("jax_default_matmul_precision", "highest")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "jgnn",
    max_examples=int(os.environ.get("JGNN_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("jgnn")
