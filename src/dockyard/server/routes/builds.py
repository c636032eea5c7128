"""Images: build a model directory, prepare a framework image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from dockyard.adapters.artifacts.local import parse_uri
from dockyard.errors import SpecError
from dockyard.server.builds import build_model_image, ensure_framework_image
from dockyard.server.deps import PlatformDep
from dockyard.server.platform import Platform
from dockyard.server.streaming import ndjson

router = APIRouter(tags=["images"])


class BuildRequest(BaseModel):
    ModelDir: str = Field(description="Absolute path of the model directory on this machine.")
    Tag: str = Field(description="Image name, NAME:TAG.")
    Framework: str | None = Field(default=None, description="Framework image to build on.")
    ModelData: str | None = Field(
        default=None, description="model.tar.gz to package: a path or an s3:// URI."
    )


def model_data_path(platform: Platform, model_data: str | None, field: str) -> Path | None:
    """A model artifact given as a path or an s3:// URI in the store, as a local file."""
    if model_data is None:
        return None
    if model_data.startswith("s3://"):
        path = platform.artifacts.local_path(parse_uri(model_data))
    else:
        path = Path(model_data.removeprefix("file://"))
    if not path.is_file():
        raise SpecError(
            f"no model artifact at {model_data}",
            field=field,
            hint="give the path of a model.tar.gz, or training-job:NAME of a completed job",
        )
    return path


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
    model_data = model_data_path(platform, request.ModelData, "ModelData")

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
