"""Which of a channel's objects each training host receives (pure).

``S3DataDistributionType`` decides it, per channel:

* ``FullyReplicated``: every host gets every object.
* ``ShardedByS3Key``: each of N hosts gets about 1/N of the objects. SageMaker
  documents the share ("each instance gets approximately 1/n of the number of S3
  objects") but not the rule; Dockyard deals the objects round robin in key order
  (S3 lists keys in UTF-8 byte order, which is Python's ``str`` order): with keys
  ``k0 < k1 < k2 …``, ``algo-1`` gets ``k0, kN, k2N …``, ``algo-2`` gets ``k1, kN+1 …``.
  Every object lands on exactly one host, the counts differ by at most one, and the
  same keys and hosts always give the same shares, so a rerun sees the same split.
  A job with more hosts than objects leaves some hosts' channels empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

FULLY_REPLICATED = "FullyReplicated"
SHARDED_BY_S3_KEY = "ShardedByS3Key"


def channel_share(
    keys: Iterable[str], distribution: str, host: str, hosts: Sequence[str]
) -> list[str]:
    """The keys (in key order) of the objects ``host`` receives among ``hosts``.

    ``hosts`` is the job's hosts in their order (algo-1 … algo-N); ``ValueError`` when
    ``host`` is not one of them or ``distribution`` is not a known type.
    """
    ordered = sorted(set(keys))
    if host not in hosts:
        raise ValueError(f"{host!r} is not one of the job's hosts {list(hosts)}")
    if distribution == FULLY_REPLICATED:
        return ordered
    if distribution == SHARDED_BY_S3_KEY:
        return ordered[hosts.index(host) :: len(hosts)]
    raise ValueError(f"unknown S3DataDistributionType {distribution!r}")
