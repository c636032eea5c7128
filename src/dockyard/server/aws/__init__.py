"""The AWS-protocol front: boto3, the AWS CLI and the SageMaker SDK drive Dockyard
with ``endpoint_url`` pointed at it.

One ASGI app (:mod:`.front`) on its own port (``DOCKYARD_AWS_PORT``) serves every AWS
service Dockyard speaks. Each service is one module that declares its operations
(:class:`.service.AwsService`): :mod:`.sagemaker`, :mod:`.ecs`, :mod:`.ecr` and
:mod:`.application_autoscaling` (JSON 1.1, ``X-Amz-Target``) and :mod:`.runtime`
(``sagemaker-runtime``, REST-JSON). Requests are signed with SigV4 by
keys Dockyard issues (:mod:`.credentials`, :mod:`.sigv4`), read and validated against
botocore's own service models (:mod:`.shapes`), and answered in AWS's error shapes
(:mod:`.errors`). The operations themselves call the same server functions as
Dockyard's own API, so both fronts see one state.
"""
