"""The manifests of deploy/k8s, rendered as ``kustomize build`` renders them.

No kustomize binary is needed: this renders the subset the manifests use
(``resources`` files and directories, ``nameSuffix``, ``labels`` with
``includeSelectors``, JSON 6902 ``patches`` by target kind). Where ``kubectl`` is on
PATH the tests compare this with ``kubectl kustomize``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from tests.stack import ROOT

K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(path.parent for path in (K8S / "overlays").glob("*/kustomization.yaml"))
SUPPORTED = {"apiVersion", "kind", "resources", "nameSuffix", "labels", "patches"}


def build(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    assert not unsupported, f"{directory}: this renderer does not know {sorted(unsupported)}"
    documents: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            documents += build(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        operations = yaml.safe_load(patch["patch"])
        for document in documents:
            if all(document.get(k) == v for k, v in patch["target"].items()):
                for operation in operations:
                    apply_json6902(document, operation)
    for label in kustomization.get("labels", []):
        for document in documents:
            add_labels(document, label["pairs"], label.get("includeSelectors", False))
    if suffix := kustomization.get("nameSuffix"):
        for document in documents:
            document["metadata"]["name"] += suffix
    return documents


def apply_json6902(document: dict, operation: dict) -> None:
    *parents, last = [
        part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]
    ]
    target = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    value = copy.deepcopy(operation.get("value"))
    if operation["op"] == "add" and isinstance(target, list):
        target.insert(len(target) if last == "-" else int(last), value)
    elif operation["op"] in ("add", "replace"):
        target[int(last) if isinstance(target, list) else last] = value
    else:
        raise AssertionError(f"unsupported patch operation {operation['op']}")


def add_labels(document: dict, pairs: dict, selectors: bool) -> None:
    document["metadata"].setdefault("labels", {}).update(pairs)
    if not selectors:
        return
    kind, spec = document["kind"], document.get("spec", {})
    if kind == "Service":
        spec.setdefault("selector", {}).update(pairs)
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(pairs)
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def by_name(documents: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def web_container_environment() -> dict[str, str]:
    """The literal variables of the base's web container (the Secret's and ConfigMap's
    come from the operator)."""
    [web] = [
        d
        for d in build(BASE)
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "atlas-social-web"
    ]
    container = web["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}
