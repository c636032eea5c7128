"""How a training job's channels are presented to its containers (pure).

Both backends write ``inputdataconfig.json`` from this: the local one into each
host's directory, the Kubernetes one into a ConfigMap, so the two never disagree.
"""

from __future__ import annotations

from dockyard.control.training_contract import ChannelInfo
from dockyard.spec.training_job import TrainingJobSpec


def channel_infos(spec: TrainingJobSpec) -> dict[str, ChannelInfo]:
    """Each channel's data-facing fields, SageMaker's defaults where the request has none."""
    infos = {}
    for channel in spec.input_data_config:
        source = channel.data_source.s3_data_source
        infos[channel.channel_name] = ChannelInfo(
            content_type=channel.content_type,
            input_mode=spec.input_mode(channel),
            s3_distribution_type=source.s3_data_distribution_type if source else "FullyReplicated",
            record_wrapper_type=channel.record_wrapper_type or "None",
        )
    return infos
