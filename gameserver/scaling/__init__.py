"""Region scaling: the pure policy shared by the Kubernetes operator and the local
supervisor. See `gameserver.scaling.policy`."""

from gameserver.scaling.policy import (
    DrainRecord,
    ScalingDecision,
    ScalingHistory,
    ScalingInput,
    ScalingSpec,
    ServerView,
    attribute_queue_demand,
    decide,
)

__all__ = [
    "DrainRecord",
    "ScalingDecision",
    "ScalingHistory",
    "ScalingInput",
    "ScalingSpec",
    "ServerView",
    "attribute_queue_demand",
    "decide",
]
