"""What Marathon's validation reads from its flags (`--enable_features`, `--default_network_name`,
`--mesos_bridge_name`), as a value passed to the pure decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

SECRETS = "secrets"
GPU_RESOURCES = "gpu_resources"
EXTERNAL_VOLUMES = "external_volumes"


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationContext:
    enabled_features: frozenset[str] = frozenset()
    default_network_name: str | None = None
    mesos_bridge_name: str = "mesos-bridge"


def feature_disabled(feature: str) -> str:
    """Upstream's message, unbalanced parenthesis included."""
    return f"Feature {feature} is not enabled. Enable with --enable_features {feature})"
