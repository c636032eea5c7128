"""The registry, server side: repositories and images like ECR, on Dockyard's Distribution.

- :mod:`.handles` — the registry process, its token issuer and client, on the platform;
- :mod:`.operations` — what the API and the front share: repositories, images, pushes;
- :mod:`.credentials` and :mod:`.front` — who may push and pull, and the HTTP front
  every client goes through (token endpoint, immutable tags, push records);
- :mod:`.reconciler` — the registry kept running, lifecycle policies applied on a
  schedule, scans of pushed images.
"""
