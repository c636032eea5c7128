"""Build plans: which of the three modes a model directory is, and the layouts refused."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.package.frameworks import SKLEARN
from dockyard.package.plan import BuildMode, ModelDir, decide_plan

pytestmark = pytest.mark.unit

CURRENT = SKLEARN.image_ref()


def plan_for(*files: str, framework: str | None = None, texts: dict[str, str] | None = None):
    return decide_plan(ModelDir(files=tuple(files), texts=texts or {}), framework=framework)


def dockerfile_plan(text: str, framework: str | None = None, extra: tuple[str, ...] = ()):
    return decide_plan(
        ModelDir(files=("Dockerfile", *extra), texts={"Dockerfile": text}), framework=framework
    )


# --- framework mode ------------------------------------------------------------------


def test_loose_joblib_file_is_a_sklearn_framework_build():
    plan = plan_for("model.joblib")

    assert plan.mode is BuildMode.FRAMEWORK
    assert plan.framework == SKLEARN
    assert plan.model_files == ("model.joblib",)
    assert plan.framework_image == CURRENT
    assert plan.code is None and plan.program is None


def test_inference_py_becomes_the_program_in_opt_ml_code():
    plan = plan_for("model.joblib", "inference.py")

    assert plan.program == "inference.py"
    assert plan.submit_directory == "/opt/ml/code"
    assert plan.code is not None and plan.code.files == (("inference.py", "inference.py"),)


def test_code_directory_is_installed_without_its_prefix():
    plan = plan_for("model.joblib", "code/inference.py", "code/lib/util.py")

    assert plan.code is not None
    assert plan.code.files == (
        ("code/inference.py", "inference.py"),
        ("code/lib/util.py", "lib/util.py"),
    )
    assert plan.model_files == ("model.joblib",)


def test_requirements_are_read_without_comments_or_blank_lines():
    plan = plan_for(
        "model.joblib",
        "requirements.txt",
        texts={"requirements.txt": "# extras\ntabulate==0.10.0  # tables\n\nsix\n"},
    )

    assert plan.requirements == ("tabulate==0.10.0", "six")
    assert plan.requirements_file == "requirements.txt"


def test_code_requirements_txt_is_used_like_sagemakers():
    plan = plan_for(
        "model.joblib",
        "code/inference.py",
        "code/requirements.txt",
        texts={"code/requirements.txt": "six"},
    )

    assert plan.requirements == ("six",)
    assert plan.code is not None
    assert ("code/requirements.txt", "requirements.txt") not in plan.code.files


def test_model_tarball_is_the_artifact_and_its_contents_name_the_framework():
    model_dir = ModelDir(files=("model.tar.gz",), archive_members=("model.joblib",))

    plan = decide_plan(model_dir)

    assert plan.model_archive == "model.tar.gz"
    assert plan.model_files == ()
    assert plan.framework == SKLEARN


def test_code_inside_the_tarball_is_served_from_opt_ml_model_code():
    model_dir = ModelDir(
        files=("model.tar.gz",),
        archive_members=("model.joblib", "code/inference.py", "code/requirements.txt"),
        archive_texts={"code/requirements.txt": "six\n"},
    )

    plan = decide_plan(model_dir)

    assert plan.program == "inference.py"
    assert plan.submit_directory == "/opt/ml/model/code"
    assert plan.requirements == ("six",)


def test_model_data_replaces_the_directorys_artifact_with_a_note():
    model_dir = ModelDir(
        files=("model.joblib", "inference.py"),
        archive_members=("model.joblib",),
        model_data="output-model.tar.gz",
    )

    plan = decide_plan(model_dir)

    assert plan.model_archive == "output-model.tar.gz"
    assert plan.model_files == ()
    assert plan.program == "inference.py"
    assert any("model.joblib" in note for note in plan.notes)


def test_docs_dotfiles_and_caches_are_not_model_files():
    plan = plan_for("model.joblib", "README.md", ".git/config", "__pycache__/x.pyc", "NOTES.md")

    assert plan.model_files == ("model.joblib",)


def test_subdirectories_outside_code_are_model_files():
    plan = plan_for("model.joblib", "vocab/words.txt")

    assert plan.model_files == ("model.joblib", "vocab/words.txt")


def test_explicit_framework_accepts_a_file_it_does_not_recognise():
    plan = plan_for("model.bin", framework="sklearn")

    assert plan.framework == SKLEARN


# --- framework mode: refused layouts ---------------------------------------------------


def expect_error(call, field: str) -> SpecError:
    with pytest.raises(SpecError) as raised:
        call()
    assert raised.value.field == field
    assert raised.value.hint
    return raised.value


def test_directory_without_model_or_dockerfile_is_refused():
    error = expect_error(lambda: plan_for("README.md"), "model_dir")
    assert "Dockerfile" in error.message and "model.tar.gz" in error.message


def test_tarball_and_loose_model_files_together_are_refused_naming_the_file():
    error = expect_error(lambda: plan_for("model.tar.gz", "model.joblib"), "model.joblib")
    assert "model.tar.gz" in error.message


def test_unknown_framework_name_is_refused_with_the_known_ones():
    error = expect_error(lambda: plan_for("model.joblib", framework="tensorflow"), "framework")
    assert "sklearn" in (error.hint or "")


def test_model_file_no_framework_recognises_asks_for_framework():
    error = expect_error(lambda: plan_for("weights.bin"), "framework")
    assert "weights.bin" in error.message
    assert "--framework" in (error.hint or "")


def test_helper_module_without_inference_py_is_refused():
    expect_error(lambda: plan_for("model.joblib", "helpers.py"), "helpers.py")


def test_top_level_python_next_to_code_directory_is_refused():
    expect_error(lambda: plan_for("model.joblib", "inference.py", "code/x.py"), "inference.py")


def test_code_directory_without_inference_py_is_refused():
    expect_error(lambda: plan_for("model.joblib", "code/handler.py"), "code")


def test_two_requirements_files_are_refused():
    expect_error(
        lambda: plan_for(
            "model.joblib", "requirements.txt", "code/inference.py", "code/requirements.txt"
        ),
        "requirements.txt",
    )


def test_pip_options_in_requirements_are_refused():
    error = expect_error(
        lambda: plan_for(
            "model.joblib",
            "requirements.txt",
            texts={"requirements.txt": "--index-url http://x\nsix"},
        ),
        "requirements.txt",
    )
    assert "line 1" in error.message


# --- extend ---------------------------------------------------------------------------


def test_from_a_pinned_framework_image_is_extend_mode():
    plan = dockerfile_plan(f"FROM {CURRENT}\nCOPY model.joblib /opt/ml/model/\n")

    assert plan.mode is BuildMode.EXTEND
    assert plan.framework == SKLEARN
    assert plan.framework_image == CURRENT
    assert plan.framework_images[0].current
    assert plan.buildargs == {}


def test_documented_arg_is_pinned_to_this_dockyards_image():
    plan = dockerfile_plan(
        "ARG DOCKYARD_FRAMEWORK_IMAGE=dockyard/sklearn\nFROM ${DOCKYARD_FRAMEWORK_IMAGE}\n"
    )

    assert plan.mode is BuildMode.EXTEND
    assert plan.buildargs == {"DOCKYARD_FRAMEWORK_IMAGE": CURRENT}


def test_untagged_literal_framework_image_follows_the_current_one():
    plan = dockerfile_plan("FROM dockyard/sklearn\n")

    assert plan.framework_images[0].floating
    assert plan.framework_image == CURRENT


def test_older_framework_tag_is_required_as_written():
    plan = dockerfile_plan("FROM dockyard/sklearn:1.0.0-dockyard0.0.1\n")

    assert plan.framework_image == "dockyard/sklearn:1.0.0-dockyard0.0.1"
    assert not plan.framework_images[0].current


def test_arg_without_default_takes_the_framework_option():
    plan = dockerfile_plan(
        "ARG DOCKYARD_FRAMEWORK_IMAGE\nFROM $DOCKYARD_FRAMEWORK_IMAGE\n", framework="sklearn"
    )

    assert plan.mode is BuildMode.EXTEND
    assert plan.buildargs == {"DOCKYARD_FRAMEWORK_IMAGE": CURRENT}


def test_arg_without_default_and_no_framework_is_refused():
    error = expect_error(lambda: dockerfile_plan("ARG IMG\nFROM ${IMG}\n"), "Dockerfile")
    assert "line 2" in error.message


def test_unknown_dockyard_framework_image_is_refused_with_its_line():
    error = expect_error(
        lambda: dockerfile_plan("# hi\nFROM dockyard/tensorflow:2\n"), "Dockerfile"
    )
    assert "line 2" in error.message and "tensorflow" in error.message


def test_framework_option_must_match_the_dockerfile():
    expect_error(
        lambda: dockerfile_plan("FROM dockyard/sklearn\n", framework="xgboost"), "framework"
    )


def test_multi_stage_extend_lists_other_bases_but_not_stage_names():
    plan = dockerfile_plan(
        "FROM python:3.11-slim AS build\nRUN true\nFROM build AS again\n"
        "FROM dockyard/sklearn\nCOPY --from=again /x /x\n"
    )

    assert plan.mode is BuildMode.EXTEND
    assert plan.external_images == ("python:3.11-slim",)


# --- bring your own container --------------------------------------------------------------


def test_any_other_dockerfile_is_built_as_it_is():
    plan = dockerfile_plan('FROM python:3.11-slim\nCMD ["serve"]\n', extra=("model.joblib",))

    assert plan.mode is BuildMode.BYOC
    assert plan.framework is None
    assert plan.external_images == ("python:3.11-slim",)


def test_dockyard_base_image_is_byoc_not_a_framework():
    plan = dockerfile_plan("FROM dockyard/base:py3.11\n")

    assert plan.mode is BuildMode.BYOC
    assert plan.external_images == ("dockyard/base:py3.11",)


def test_scratch_is_not_an_image_to_find():
    assert dockerfile_plan("FROM scratch\nCOPY x /x\n").external_images == ()


def test_framework_option_with_a_byoc_dockerfile_is_refused():
    expect_error(lambda: dockerfile_plan("FROM alpine\n", framework="sklearn"), "framework")


def test_model_data_with_a_dockerfile_is_refused():
    model_dir = ModelDir(
        files=("Dockerfile",), texts={"Dockerfile": "FROM alpine\n"}, model_data="m.tar.gz"
    )
    expect_error(lambda: decide_plan(model_dir), "model_data")


def test_dockerfile_without_from_is_refused():
    expect_error(lambda: dockerfile_plan("RUN true\n"), "Dockerfile")


def test_arg_that_is_only_part_of_the_reference_is_not_overridden():
    plan = dockerfile_plan("ARG REPO=dockyard/sklearn\nFROM ${REPO}:latest\n")

    assert plan.mode is BuildMode.EXTEND
    assert plan.buildargs == {}


def test_arg_with_a_default_expression_is_pinned_too():
    plan = dockerfile_plan("ARG IMG\nFROM ${IMG:-dockyard/sklearn}\n")

    assert plan.buildargs == {"IMG": CURRENT}
