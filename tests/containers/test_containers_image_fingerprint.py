"""A real engine rebuilds an image when a copy of its Dockerfile or a copied-in file changes.

Builds a throw-away image (FROM the bootstrapped Debian base, no RUN: a few seconds) in a temporary
build context, and removes every image it made.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers import installer
from automation.containers.images import FINGERPRINT_LABEL, ImageSpec, ensure_image
from automation.containers.runtime import ContainerRuntime

pytestmark = pytest.mark.containers

BASE = "localhost/base/debian:bookworm"


@pytest.fixture
def spec(runtime: ContainerRuntime, tmp_path: Path) -> Iterator[ImageSpec]:
    if runtime.inspect_image(BASE) is None:
        pytest.skip(f"{BASE} is not bootstrapped (make setup-containers)")
    (tmp_path / "kit").mkdir()
    shutil.copy(installer.__file__, tmp_path / "kit" / "installer.py")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "Dockerfile").write_text(
        f"ARG BASE_IMAGE={BASE}\nFROM ${{BASE_IMAGE}}\nCOPY kit/installer.py /opt/kit/\n"
    )
    tag = f"localhost/registry-automation-test/fingerprint-{uuid.uuid4().hex[:8]}:latest"
    yield ImageSpec(
        name="fingerprint-test",
        tag=tag,
        dockerfile=tmp_path / "env" / "Dockerfile",
        context=tmp_path,
        base_image=BASE,
        local=True,
        build_args=(("BASE_IMAGE", BASE),),
    )
    runtime.runner([runtime.executable, "image", "rm", "-f", tag], timeout=120)


def test_editing_the_dockerfile_or_a_copied_file_rebuilds(
    runtime: ContainerRuntime, spec: ImageSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    ids: list[str] = []

    def ensure(expect_build: bool, reason: str) -> None:
        done = ensure_image(runtime, spec)
        assert done.ok, done.completed.tail() if done.completed else ""
        assert done.built is expect_build
        assert reason in done.reason
        image = runtime.inspect_image(spec.tag)
        assert image is not None and image.label(FINGERPRINT_LABEL) == done.check.fingerprint
        ids.append(image.id)

    try:
        ensure(True, "image missing")
        ensure(False, "up to date")
        dockerfile = spec.dockerfile
        dockerfile.write_text(dockerfile.read_text() + 'LABEL test.edit="1"\n')
        ensure(True, "fingerprint changed")
        ensure(False, "up to date")
        copied = spec.context / "kit" / "installer.py"
        copied.write_text(copied.read_text() + "# edited\n")
        ensure(True, "fingerprint changed")
        assert "fingerprint-test: building" in capsys.readouterr().err
        assert len(set(ids)) == 3  # three builds, three images
    finally:
        for image_id in set(ids):
            runtime.runner([runtime.executable, "image", "rm", "-f", image_id], timeout=120)
