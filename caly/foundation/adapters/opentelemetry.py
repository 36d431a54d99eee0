"""OpenTelemetry SDK: the sampler its environment variables name.

`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` are read by the SDK's private
`opentelemetry.sdk.trace.sampling._get_from_env_or_default`, the one function that turns them into a
sampler; the SDK has no public equivalent. Caly wraps that sampler (traces start only at requests and
tasks), so it needs it as an object. Used here and nowhere else; tests/test_library_adapters.py checks it.
"""

from __future__ import annotations


def sampler_from_environment():
    """The sampler OTEL_TRACES_SAMPLER(_ARG) configure, or the SDK's default."""
    # Imported here: OpenTelemetry is loaded only when tracing is configured.
    from opentelemetry.sdk.trace.sampling import _get_from_env_or_default

    return _get_from_env_or_default()
