"""The Kubernetes manifests in scripts/k8s parse, describe what docs/serving.md promises (gRPC
health probes, a headless Service for dns:/// round robin, an Indexed Job of filter shards), and
pass only flags that the built binary's `--help` lists for that subcommand.

Environment (set by CTest): SPARSEGATE_BIN, the built CLI.
"""
import glob
import os
import re
import subprocess

import pytest
import yaml

BIN = os.environ.get("SPARSEGATE_BIN", "")
MANIFESTS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "k8s", "*.yaml")))

pytestmark = pytest.mark.skipif(not os.path.isfile(BIN), reason=f"needs SPARSEGATE_BIN (got {BIN!r})")


def documents():
    docs = []
    for path in MANIFESTS:
        with open(path) as f:
            docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
    return docs


def by_kind(kind):
    return [d for _, d in documents() if d["kind"] == kind]


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def help_flags(subcommand):
    out = subprocess.run([BIN, subcommand, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", out))


def test_every_manifest_parses_and_names_its_kind():
    assert MANIFESTS and all(doc.get("apiVersion") and doc.get("kind") for _, doc in documents())


def test_scorer_has_grpc_probes_resources_and_a_headless_service():
    (deployment,) = by_kind("Deployment")
    (container,) = pod_spec(deployment)["containers"]
    port = container["ports"][0]["containerPort"]
    # Probes speak plaintext: they go to the health-only port, never to the TLS one.
    health = next(int(a.split(":")[-1]) for a in container["args"] if a.startswith("--health-address="))
    assert health != port and {p["containerPort"] for p in container["ports"]} == {port, health}
    assert container["readinessProbe"]["grpc"] == {"port": health, "service": "sparsegate.v1.DifficultyService"}
    assert container["livenessProbe"]["grpc"]["port"] == health
    assert container["startupProbe"]["grpc"]["port"] == health
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    drain = next(a for a in container["args"] if a.startswith("--drain-timeout="))
    assert int(drain.split("=")[1]) < pod_spec(deployment)["terminationGracePeriodSeconds"]
    (service,) = by_kind("Service")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"]


def mounted_files(spec, container):
    """Every path a container can read from a Secret: mount path / key (or any name under it)."""
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    return {m["mountPath"]: secrets[m["name"]] for m in container["volumeMounts"] if m["name"] in secrets}


def test_tls_material_and_tokens_come_from_secrets():
    for kind, flags in (("Deployment", ("--tls-cert", "--tls-key", "--auth-tokens")),
                        ("Job", ("--tls-ca", "--auth-token-file"))):
        (doc,) = by_kind(kind)
        (container,) = pod_spec(doc)["containers"]
        mounts = mounted_files(pod_spec(doc), container)
        args = dict(a.split("=", 1) for a in container["args"][1:])
        for flag in flags:
            assert os.path.dirname(args[flag]) in mounts, f"{kind}: {flag}={args[flag]} is not in a mounted Secret"


def test_filter_job_is_indexed_and_shards_by_its_index():
    (job,) = by_kind("Job")
    assert job["spec"]["completionMode"] == "Indexed"
    (container,) = pod_spec(job)["containers"]
    shard = next(a for a in container["args"] if a.startswith("--shard="))
    assert shard == f"--shard=$(SHARD)/{job['spec']['completions']}"
    env = {e["name"]: e for e in container["env"]}
    assert "job-completion-index" in env["SHARD"]["valueFrom"]["fieldRef"]["fieldPath"]
    server = next(a for a in container["args"] if a.startswith("--server="))
    (service,) = by_kind("Service")
    assert server.startswith(f"--server=dns:///{service['metadata']['name']}.")


def test_every_flag_passed_exists_in_the_binary():
    checked = 0
    for name, doc in documents():
        if "template" not in doc.get("spec", {}):
            continue
        for container in pod_spec(doc)["containers"]:
            assert container["command"] == ["sparsegate"], name
            subcommand, *args = container["args"]
            known = help_flags(subcommand)
            for arg in args:
                flag = arg.split("=")[0]
                assert flag in known, f"{name}: {subcommand} has no {flag}"
                checked += 1
    assert checked >= 10
