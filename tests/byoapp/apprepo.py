"""A spec repository holding the example apps, for the tests of this folder."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
APPS = PROJECT / "examples" / "apps"


def app_spec(
    name: str = "quickstart",
    app: str = "quickstart-numpy",
    *,
    rounds: int = 2,
    config: str = "num-server-rounds: 2",
    extra: str = "",
) -> str:
    """A FederationSpec running an example app; `config` is the body of spec.app.config."""
    body = "\n".join(f"      {line}" for line in config.splitlines())
    return f"""\
apiVersion: thunderline.okocorp/v1
kind: FederationSpec
metadata:
  name: {name}
  tenant: acme
spec:
  app:
    path: apps/{app}
    config:
{body}
  strategy:
    name: fedavg
  rounds:
    total: {rounds}
  artifacts:
    outputBucket: local
{extra}"""


def make_app_repo(root: Path, specs: dict[str, str]) -> Path:
    """`root` with apps/ (the example apps) and the given specs/acme/<name>.yaml files."""
    shutil.copytree(APPS, root / "apps", dirs_exist_ok=True)
    for name, text in specs.items():
        path = root / "specs" / "acme" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
