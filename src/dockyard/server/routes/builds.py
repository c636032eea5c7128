"""Images: build a model directory, prepare a framework image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from dockyard.errors import SpecError
from dockyard.server.builds import build_model_image, ensure_framework_image
from dockyard.server.deps import PlatformDep
from dockyard.server.streaming import ndjson

router = APIRouter(tags=["images"])


class BuildRequest(BaseModel):
    ModelDir: str = Field(description="Absolute path of the model directory on this machine.")
    Tag: str = Field(description="Image name, NAME:TAG.")
    Framework: str | None = Field(default=None, description="Framework image to build on.")
    ModelData: str | None = Field(
        default=None,
        description="model.tar.gz to package: an absolute path, file:///absolute/path, "
        "s3://bucket/key in the artifact store, or training-job:NAME.",
    )


@router.post("/builds", response_class=StreamingResponse)
def build(request: BuildRequest, platform: PlatformDep) -> StreamingResponse:
    """Build an inference image; streams progress lines, then the result."""
    model_dir = Path(request.ModelDir)
    if not model_dir.is_absolute() or not model_dir.is_dir():
        raise SpecError(
            f"{request.ModelDir} is not a directory on the daemon's machine",
            field="ModelDir",
            hint="give an absolute path to an existing directory",
        )
    model_data = (
        platform.inputs.model_archive(request.ModelData, "ModelData").path
        if request.ModelData
        else None
    )

    def work(progress: Any) -> dict[str, Any]:
        result = build_model_image(
            platform.engine,
            platform.settings,
            model_dir,
            request.Tag,
            framework=request.Framework,
            model_data=model_data,
            progress=progress,
        )
        return {
            "Image": result.image,
            "ImageId": result.image_id,
            "SizeBytes": result.size_bytes,
            "Mode": str(result.mode),
            "Seconds": result.seconds,
            "StepsCached": result.steps_cached,
            "StepsTotal": result.steps_total,
            "FrameworkImage": result.framework_image,
            "Notes": list(result.notes),
        }

    return ndjson(work)


@router.post("/frameworks/{framework}/image", response_class=StreamingResponse)
def framework_image(framework: str, platform: PlatformDep) -> StreamingResponse:
    """Make sure a framework image exists (built once, then cached)."""

    def work(progress: Any) -> dict[str, Any]:
        ref = ensure_framework_image(
            platform.engine, platform.settings, framework, progress=progress
        )
        return {"Image": ref}

    return ndjson(work)
