"""The chart runs the image you built and pushed (docs/deploy.md, "The image"): its
repository and tag are values, reaching every pod that runs the reconciler or Flower; the
tag defaults to the chart's appVersion, which is the package's version."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.artefacts import CHART, pod_specs, render

EVALUATION = ("postgres", "minio", "mc")  # the evaluation services' own public images


def own_images(values: dict[str, Any]) -> dict[str, str]:
    """{workload/container: image} of every container but the evaluation services'."""
    objs = render({"postgresql": {"enabled": True}, "minio": {"enabled": True}, **values})
    found = {}
    for workload, pod in pod_specs(objs):
        for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            if c["image"].split("/")[-1].split(":")[0] not in EVALUATION:
                found[f"{workload['metadata']['name']}/{c['name']}"] = c["image"]
    return found


def test_the_image_repository_and_tag_are_values_every_own_pod_uses() -> None:
    image = {"repository": "registry.example.com/fl/thunderline-reconciler", "tag": "1.2.3"}

    images = own_images({"image": image})

    assert {name.split("/")[1] for name in images} >= {"reconciler", "superlink", "supernode"}
    assert set(images.values()) == {f"{image['repository']}:1.2.3"}


def test_the_tag_defaults_to_the_charts_app_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())

    assert set(own_images({}).values()) == {f"thunderline-reconciler:{chart['appVersion']}"}
