"""deploy/k8s: the base and each service's overlay render, validate against the
Kubernetes schemas (kubernetes-validate, no cluster), and say what the issue asks."""

from __future__ import annotations

import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from project.messaging import registry
from tests.deploy.manifests import BASE, OVERLAYS, build, by_name
from tests.deploy.test_container import ENTRYPOINT, KINDS

KUBERNETES = kubernetes_validate.latest_version()
TREES = [BASE, *OVERLAYS]
PROCESS_KINDS = ("web", "bridge", "worker", "lookups", "beat", "relay", "flower")
UPSTREAM = {  # our service: upstream's Deployment and Service name
    "invites": "atlas-invites",
    "parties": "atlas-parties",
    "messengers": "atlas-messengers",
    "transport": "atlas-transports",
    "notes": "atlas-notes",
}


def test_there_is_an_overlay_per_service():
    assert sorted(path.name for path in OVERLAYS) == sorted(UPSTREAM)


@pytest.mark.parametrize("tree", TREES, ids=lambda path: path.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(tree):
    documents = build(tree)
    assert documents
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{tree.name}: {document['kind']} {document['metadata']['name']}: {error}")


@pytest.mark.parametrize("tree", TREES, ids=lambda path: path.name)
def test_the_renderer_agrees_with_kubectl_kustomize(tree):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the renderer's output is validated alone")
    result = subprocess.run(
        [kubectl, "kustomize", str(tree)], capture_output=True, text=True, timeout=120
    )
    if (
        result.returncode != 0
        and "kustomize" in result.stderr
        and "unknown command" in result.stderr
    ):
        pytest.skip("this kubectl has no kustomize")
    assert result.returncode == 0, result.stderr
    theirs = by_name(d for d in yaml.safe_load_all(result.stdout) if d)
    assert by_name(build(tree)) == theirs


def deployments(documents) -> dict[str, dict]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in documents
        if d["kind"] == "Deployment"
    }


def containers(document) -> list[dict]:
    return document["spec"]["template"]["spec"]["containers"]


def env(container) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("tree", TREES, ids=lambda path: path.name)
def test_one_deployment_per_process_kind_and_a_migrations_job(tree):
    documents = build(tree)
    kinds = deployments(documents)
    assert sorted(kinds) == sorted(PROCESS_KINDS)
    for kind, deployment in kinds.items():
        assert containers(deployment)[0]["args"][0] == kind
    assert kinds["beat"]["spec"]["replicas"] == 1
    assert kinds["beat"]["spec"]["strategy"] == {"type": "Recreate"}  # never two
    assert kinds["flower"]["spec"]["strategy"] == {"type": "Recreate"}
    assert kinds["relay"]["spec"]["replicas"] >= 2  # a standby (leader-elected)
    [job] = [d for d in documents if d["kind"] == "Job"]
    assert containers(job)[0]["args"] == ["migrate"]
    services = {d["metadata"]["name"] for d in documents if d["kind"] == "Service"}
    suffix = "" if tree == BASE else f"-{tree.name}"
    assert {f"atlas-social-web{suffix}", f"atlas-social-flower{suffix}"} <= services
    # Every container runs a kind the entry point knows.
    script = ENTRYPOINT.read_text()
    for document in documents:
        for container in containers(document) if document["kind"] != "Service" else []:
            assert container["args"][0] in KINDS and f"\n{container['args'][0]})" in script


@pytest.mark.parametrize("tree", TREES, ids=lambda path: path.name)
def test_probes_resources_and_a_locked_down_user(tree):
    documents = build(tree)
    web = containers(deployments(documents)["web"])[0]
    readiness = web["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/api/readyz" and readiness["port"] == "http"
    # The kubelet's Host header is the pod's IP, which ALLOWED_HOSTS refuses.
    assert {"name": "Host", "value": "localhost"} in readiness["httpHeaders"]
    assert "localhost" in env(web)["DJANGO_ALLOWED_HOSTS"]["value"].split(",")
    assert "livenessProbe" in web and "startupProbe" in web
    assert "livenessProbe" in containers(deployments(documents)["flower"])[0]
    for document in documents:
        if document["kind"] == "Service":
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            name = f"{document['metadata']['name']}/{container['name']}"
            for side in ("requests", "limits"):
                assert set(container["resources"][side]) == {"cpu", "memory"}, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            if container["args"][0] == "metrics":
                assert "livenessProbe" in container


@pytest.mark.parametrize("tree", TREES, ids=lambda path: path.name)
def test_upstreams_configmap_and_secret_keys(tree):
    """An operator's existing atlas-env and db-credentials apply unchanged."""
    for document in build(tree):
        if document["kind"] == "Service":
            continue
        for container in containers(document):
            assert {"configMapRef": {"name": "atlas-env"}} in container["envFrom"]
            variables = env(container)
            for key in ("DB_USER", "DB_PASSWORD"):
                assert variables[key]["valueFrom"] == {
                    "secretKeyRef": {"name": "db-credentials", "key": key}
                }
            assert variables["DJANGO_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == (
                "atlas-social"
            )
            assert "value" not in variables["DJANGO_SECRET_KEY"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_each_overlay_runs_its_service_in_upstreams_consumer_group(overlay):
    service = overlay.name
    documents = build(overlay)
    group = registry.running()[service].group  # upstream's name, from the code
    for document in documents:
        if document["kind"] == "Service":
            continue
        variables = env(containers(document)[0])
        assert variables["ATLAS_SERVICES"]["value"] == service
        if document["kind"] == "Deployment":
            assert variables["KAFKA_CONSUMER_GROUP"]["value"] == group
    # Upstream's Service name, now selecting this overlay's web pods.
    alias = by_name(documents)[("Service", UPSTREAM[service])]
    web = deployments(documents)["web"]
    assert (
        alias["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    )
    assert alias["spec"]["ports"][0]["port"] == 8080


def test_overlays_can_run_side_by_side():
    """Names and selectors differ between overlays, so two services' overlays coexist."""
    seen: dict[tuple[str, str], str] = {}
    for overlay in OVERLAYS:
        for key, document in by_name(build(overlay)).items():
            assert key not in seen, f"{key} in {overlay.name} and {seen[key]}"
            seen[key] = overlay.name
            if document["kind"] == "Deployment":
                selector = document["spec"]["selector"]["matchLabels"]
                assert selector["app.kubernetes.io/instance"] == f"atlas-social-{overlay.name}"


def test_every_manifest_file_validates_as_written():
    """Files applied by hand (the notes import Job) as much as the kustomized ones."""
    files = [p for p in (BASE.parent).rglob("*.yaml") if p.name != "kustomization.yaml"]
    assert any(p.name == "import-job.yaml" for p in files)
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                try:
                    kubernetes_validate.validate(document, KUBERNETES, strict=True)
                except kubernetes_validate.ValidationError as error:
                    pytest.fail(f"{path}: {error}")


def test_the_notes_import_job_reads_the_source_from_a_secret():
    [job] = [
        d
        for d in yaml.safe_load_all((BASE.parent / "overlays/notes/import-job.yaml").read_text())
        if d
    ]
    container = containers(job)[0]
    assert container["args"][:2] == ["manage", "notes_import_upstream"]
    assert "$(UPSTREAM_NOTES_DATABASE_URL)" in container["args"]
    assert "secretKeyRef" in env(container)["UPSTREAM_NOTES_DATABASE_URL"]["valueFrom"]
