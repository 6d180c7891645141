"""Validation images are rebuilt when what they are built from changes (fingerprint label).

The engine is a fake behind the runtime's process runner: it keeps images (ID + labels) and
records every command, so "no build" means no ``build`` command was issued.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from automation.containers import images
from automation.containers.environments import CONTAINERS_DIR, load_environments
from automation.containers.images import (
    FINGERPRINT_LABEL,
    ImageSpec,
    check_image,
    copy_sources,
    ensure_image,
    fingerprint,
)
from automation.containers.runtime import (
    DockerRuntime,
    EngineError,
    PodmanRuntime,
    parse_image_inspect,
)
from automation.containers.validate import build_images, image_spec
from automation.core.errors import DataError, ExitCode
from tests.support.fake_engine import FakeEngine

BY_ID = {e.id: e for e in load_environments()}


BASE = "localhost/base/debian:bookworm"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context like containers/: one Dockerfile that copies the kit's installer in."""
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "installer.py").write_text("print('install')\n")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "Dockerfile").write_text(
        f"ARG BASE_IMAGE={BASE}\nFROM ${{BASE_IMAGE}}\nCOPY kit/installer.py /opt/kit/\n"
    )
    return tmp_path


def spec_in(context: Path, *, local: bool = True) -> ImageSpec:
    return ImageSpec(
        name="env",
        tag="localhost/registry-automation/env:latest",
        dockerfile=context / "env" / "Dockerfile",
        context=context,
        base_image=BASE,
        local=local,
        build_args=(("BASE_IMAGE", BASE),) if local else (),
    )


def engine_with_base() -> FakeEngine:
    engine = FakeEngine()
    engine.put(BASE)
    return engine


def test_unchanged_image_is_not_rebuilt(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = engine_with_base()
    runtime = PodmanRuntime(engine)
    first = ensure_image(runtime, spec_in(context))
    assert first.built and first.check.status == "missing"
    assert "env: building localhost/registry-automation/env:latest: image missing" in (
        capsys.readouterr().err
    )
    second = ensure_image(runtime, spec_in(context))
    assert not second.built and second.check.status == "current"
    assert len(engine.builds()) == 1
    assert capsys.readouterr().err == ""  # nothing to say when nothing is built


def test_changed_dockerfile_rebuilds_and_says_why(
    context: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = engine_with_base()
    runtime = PodmanRuntime(engine)
    ensure_image(runtime, spec_in(context))
    old = engine.images["localhost/registry-automation/env:latest"][1][FINGERPRINT_LABEL]
    capsys.readouterr()
    dockerfile = context / "env" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN apt-get install -y jq\n")

    again = ensure_image(runtime, spec_in(context))

    assert again.built and again.check.status == "changed"
    err = capsys.readouterr().err
    assert "fingerprint changed" in err and old[:19] in err
    new = engine.images["localhost/registry-automation/env:latest"][1][FINGERPRINT_LABEL]
    assert new == again.check.fingerprint != old
    assert len(engine.builds()) == 2
    # The replaced image does not linger untagged.
    assert engine.calls[-1] == ["podman", "image", "rm", again.check.image_id]
    assert engine.images["localhost/registry-automation/env:latest"][0] != again.check.image_id


def test_image_from_an_older_kit_without_the_label_is_rebuilt(
    context: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = engine_with_base()
    engine.put("localhost/registry-automation/env:latest", {"io.buildah.version": "1.28.2"})
    done = ensure_image(PodmanRuntime(engine), spec_in(context))
    assert done.built and done.check.status == "unlabelled"
    assert "no org.registry-automation.fingerprint label (built by an older kit)" in (
        capsys.readouterr().err
    )


def test_the_build_carries_the_fingerprint_label_with_both_engines(context: Path) -> None:
    for runtime in (PodmanRuntime(engine_with_base()), DockerRuntime(engine_with_base())):
        done = ensure_image(runtime, spec_in(context), log=lambda _: None)
        engine = runtime.runner
        assert isinstance(engine, FakeEngine)
        (build,) = engine.builds()
        assert build[0] == runtime.executable
        label = build[build.index("--label") + 1]
        assert label == f"{FINGERPRINT_LABEL}={done.check.fingerprint}"
        assert build[-1] == str(context)


@pytest.mark.parametrize(
    "change",
    ["copied file content", "copied file mode", "base image re-bootstrapped", "build argument"],
)
def test_every_input_of_the_image_counts(context: Path, change: str) -> None:
    engine = engine_with_base()
    runtime = PodmanRuntime(engine)
    spec = spec_in(context)
    ensure_image(runtime, spec, log=lambda _: None)
    if change == "copied file content":
        (context / "kit" / "installer.py").write_text("print('install v2')\n")
    elif change == "copied file mode":
        (context / "kit" / "installer.py").chmod(0o755)
    elif change == "base image re-bootstrapped":
        engine.put(BASE)  # same reference, new image ID
    else:
        spec = ImageSpec(**{**_fields(spec), "build_args": (*spec.build_args, ("PIPX", "1"))})
    assert check_image(runtime, spec).status == "changed"


def _fields(spec: ImageSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in ImageSpec.__dataclass_fields__}


def test_files_outside_the_copies_and_the_dockerfile_path_do_not_count(
    context: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    before = fingerprint(spec_in(context), "sha256:base")
    (context / "kit" / "notes.txt").write_text("not copied\n")
    assert fingerprint(spec_in(context), "sha256:base") == before
    # The same context elsewhere (another checkout) gives the same fingerprint.
    other = tmp_path_factory.mktemp("checkout")
    for path in context.rglob("*"):
        if path.is_file():
            (other / path.relative_to(context)).parent.mkdir(parents=True, exist_ok=True)
            (other / path.relative_to(context)).write_bytes(path.read_bytes())
    assert fingerprint(spec_in(other), "sha256:base") == before


def test_forced_rebuild_and_failed_build(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = engine_with_base()
    runtime = PodmanRuntime(engine)
    ensure_image(runtime, spec_in(context))
    engine.put_same_id = True  # a rebuild of unchanged inputs hits the layer cache
    forced = ensure_image(runtime, spec_in(context), rebuild=True)
    assert forced.built and forced.reason == "rebuild requested"
    assert engine.calls[-1][1:3] != ["image", "rm"]  # the cached image is the new one: kept
    engine.put_same_id = False
    capsys.readouterr()
    engine.fail_build = True
    (context / "kit" / "installer.py").write_text("broken\n")
    failed = ensure_image(runtime, spec_in(context))
    assert not failed.ok and "exit status 100" in capsys.readouterr().err
    # The old image keeps its old label, so the next run tries again.
    assert check_image(runtime, spec_in(context)).status == "changed"


def test_local_base_missing_is_an_engine_error(context: Path) -> None:
    with pytest.raises(EngineError, match="localhost/base/debian:bookworm is not in podman"):
        check_image(PodmanRuntime(FakeEngine()), spec_in(context))


def test_upstream_base_counts_by_reference_whether_pulled_or_not(context: Path) -> None:
    """Hosted CI: the base is pulled by the first build; that must not make the image stale."""
    engine = FakeEngine()
    runtime = DockerRuntime(engine)
    ensure_image(runtime, spec_in(context, local=False), log=lambda _: None)
    engine.put(BASE)  # now pulled
    assert check_image(runtime, spec_in(context, local=False)).status == "current"


def test_make_build_images_and_the_validator_compute_the_same_fingerprint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hosted CI: `make build-images` builds with docker; `invoke validate` must not rebuild."""
    env = BY_ID["fedora-41"]
    engine = FakeEngine()
    runtime = DockerRuntime(engine)
    monkeypatch.setattr(images, "runtime_for", lambda engine_name: runtime)
    argv = [
        "check",
        "--engine",
        "docker",
        "--name",
        env.id,
        "--tag",
        env.image,
        "-f",
        f"containers/{env.id}/Dockerfile",
        "--context",
        "containers",
        "--base",
        env.base_image,
    ]
    monkeypatch.chdir(CONTAINERS_DIR.parent)
    assert images.main(argv) == 0
    out, err = capsys.readouterr()
    key, _, value = out.strip().partition("=")
    assert key == FINGERPRINT_LABEL and "needs a build: image missing" in err
    engine.put(env.image, {key: value})  # what `docker build --label "$label"` leaves

    assert images.main(argv) == 0
    out, err = capsys.readouterr()
    assert out == "" and "up to date" in err

    report = build_images([env], runtime, log=lambda _: None)
    assert report.results[0].skipped and engine.builds() == []


def test_command_line_ensure_builds_with_the_label(
    monkeypatch: pytest.MonkeyPatch, context: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What containers/setup.sh runs (with the system python3)."""
    engine = engine_with_base()
    monkeypatch.setattr(images, "runtime_for", lambda engine_name: PodmanRuntime(engine))
    argv = ["ensure", "--engine", "podman", "--name", "env", "--tag", "t:latest"]
    argv += ["--dockerfile", str(context / "env" / "Dockerfile"), "--context", str(context)]
    argv += ["--base", BASE, "--local"]
    assert images.main(argv) == 0
    assert images.main(argv) == 0
    assert len(engine.builds()) == 1
    assert "--pull=never" in engine.builds()[0]
    assert "t:latest up to date" in capsys.readouterr().err
    engine.fail_build = True
    assert images.main([*argv, "--rebuild"]) == ExitCode.STOPPED


def test_copy_sources_reads_every_form() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM base AS build\n"
        "COPY --chown=0:0 a.txt b/ /dst/\n"
        'ADD ["with space.txt", "/dst/"]\n'
        "copy --from=build /x /y\n"
        "COPY \\\n"
        "  # a comment inside the continuation\n"
        "  c.sh /dst/\n"
        "COPY <<EOF /etc/inline\nhello\nEOF\n"
        "ADD https://example.org/tool.tar.gz /opt/\n"
    )
    assert [s for _, s in copy_sources(text)] == [
        "a.txt",
        "b/",
        "with space.txt",
        "c.sh",
        "https://example.org/tool.tar.gz",
    ]
    assert copy_sources(text)[3][0] == 6  # the instruction's first line


@pytest.mark.parametrize(
    ("instruction", "message"),
    [
        ("COPY missing.txt /dst/", "'missing.txt' is not in the build context"),
        ("COPY ../outside.txt /dst/", "leaves the build context"),
        ("COPY only-one-operand", "needs a source and a destination"),
        ('COPY ["a", 1]', "list of strings"),
    ],
)
def test_bad_copies_are_data_errors_naming_the_dockerfile_line(
    tmp_path: Path, instruction: str, message: str
) -> None:
    (tmp_path / "outside.txt").write_text("x")
    context = tmp_path / "ctx"
    (context / "env").mkdir(parents=True)
    dockerfile = context / "env" / "Dockerfile"
    dockerfile.write_text(f"FROM {BASE}\n{instruction}\n")
    with pytest.raises(DataError, match=message) as caught:
        fingerprint(spec_in(context))
    assert str(dockerfile) in str(caught.value) and "line 2" in str(caught.value)


def test_directories_and_globs_count_every_file(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "kit" / "sub").mkdir(parents=True)
    (tmp_path / "kit" / "sub" / "deep.py").write_text("1")
    (tmp_path / "kit" / "top.sh").write_text("2")
    (tmp_path / "env" / "Dockerfile").write_text(f"FROM {BASE}\nCOPY kit/ /kit/\nCOPY k*/t* /t/\n")
    before = fingerprint(spec_in(tmp_path))
    (tmp_path / "kit" / "sub" / "deep.py").write_text("changed")
    assert fingerprint(spec_in(tmp_path)) != before


def test_the_shipped_dockerfiles_have_fingerprints() -> None:
    for env in BY_ID.values():
        assert fingerprint(image_spec(env, local=False)).startswith("sha256:")


def test_inspect_output_of_both_engines_parses() -> None:
    podman = parse_image_inspect('8a0e823a782a {"io.buildah.version":"1.28.2"}\n')
    assert podman.id == "8a0e823a782a" and podman.label("io.buildah.version") == "1.28.2"
    docker = parse_image_inspect("sha256:abc null\n")
    assert docker.id == "sha256:abc" and docker.labels == ()
    assert parse_image_inspect("sha256:abc {not json").label(FINGERPRINT_LABEL) is None


def test_the_command_line_needs_only_the_standard_library() -> None:
    """containers/setup.sh runs it with the system python3, before the virtualenv exists."""
    # -S: no site-packages, so any third-party import fails here as it would there.
    done = subprocess.run(
        [sys.executable, "-S", "-m", "automation.containers.images", "--help"],
        cwd=CONTAINERS_DIR.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "check" in done.stdout and "ensure" in done.stdout
