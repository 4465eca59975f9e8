"""Counting XLA compilations, to hold padding and bucketing to a recompile budget."""

from __future__ import annotations

import threading
from typing import Any

import jax

__all__ = ["CompileCounter"]

#: Event JAX records (with the compile time and a ``fun_name``) each time it builds an
#: executable, in ``jax._src.interpreters.pxla`` (jax 0.10.x / 0.11.x).
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileCounter:
    """Context manager counting the XLA compilations that happen inside it.

    A listener for JAX's ``/jax/core/compile/backend_compile_duration`` monitoring event is
    registered on ``__enter__`` and unregistered on ``__exit__`` (also when the body raises).
    Every executable JAX builds is counted, including the small ones built for eager
    (un-jitted) operations; pass ``match`` to count only functions whose name contains it
    (``jax.jit(step)`` compiles under the name ``"jit(step)"``; pass ``match="jit(step)"``).
    Counters may be nested; each sees the compilations inside its own block. Compilations are
    counted from every thread. A hit in the persistent compilation cache still counts: it is
    an executable being built for a new shape.

    Attributes:
        count: Number of matching compilations so far.
        names: The ``fun_name`` of each matching compilation, in order.
        seconds: Total compile time of the matching compilations.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> f = jax.jit(lambda x: x * 2)
        >>> with CompileCounter(match="lambda") as cc:
        ...     _ = f(jnp.ones(3)); _ = f(jnp.ones(3)); _ = f(jnp.ones(4))
        >>> cc.count
        2
    """

    def __init__(self, match: str | None = None) -> None:
        """Creates a counter.

        Args:
            match: Optional substring; only compilations whose ``fun_name`` contains it count.
        """
        if match is not None and not isinstance(match, str):
            raise TypeError(f"`match` must be a str or None, got {type(match).__name__}.")
        self.match = match
        self.count = 0
        self.names: list[str] = []
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._active = False

    def _listener(self, event: str, duration_secs: float, **kwargs: Any) -> None:
        if event != BACKEND_COMPILE_EVENT:
            return
        name = str(kwargs.get("fun_name", ""))
        if self.match is not None and self.match not in name:
            return
        with self._lock:
            self.count += 1
            self.names.append(name)
            self.seconds += float(duration_secs)

    def __enter__(self) -> CompileCounter:
        if self._active:
            raise RuntimeError("This CompileCounter is already active; create a new one.")
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        self._active = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._active = False
        try:
            jax.monitoring.unregister_event_duration_listener(self._listener)
        except (AssertionError, ValueError):  # already removed, e.g. by clear_event_listeners
            pass

    def assert_at_most(self, budget: int) -> None:
        """Raises ``AssertionError`` if more than ``budget`` compilations were counted.

        Args:
            budget: The allowed number of compilations.

        Raises:
            AssertionError: Listing the compiled function names when over budget.
        """
        if self.count > budget:
            raise AssertionError(
                f"{self.count} compilations exceed the budget of {budget}: {self.names}."
            )

    def __repr__(self) -> str:
        return f"CompileCounter(match={self.match!r}, count={self.count})"
