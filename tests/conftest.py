"""Test configuration shared by the whole suite.

Four fake CPU devices (so sharding code is testable on one CPU), strict dtype promotion (so an
accidental int/float or f32/bf16 mix fails loudly), and a bounded hypothesis profile.
"""

import os

import jax

jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_numpy_dtype_promotion", "strict")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "jgnn",
    max_examples=int(os.environ.get("JGNN_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("jgnn")
