"""What the shipping files promise, checked: the release profile unwinds on panic; the Dockerfile builds the binary in one stage and
runs it as a non-root user in another, with models fetched by `embedd fetch` and a health check
on /ready; the compose stack checks /ready and holds the seed's services; the Kubernetes
Deployment probes /ready and /health and reads the same configuration as compose.
Usage: deploy_check.py REPOSITORY_ROOT"""

import sys
import tomllib
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

root = Path(sys.argv[1])
deploy = root / "deploy"

# The release build the image ships: a panic in a batch is caught (the scheduler fails that
# batch's requests and serves on), which `panic = "abort"` would turn into a dead server.
profiles = tomllib.loads((root / "Cargo.toml").read_text()).get("profile", {})
assert profiles.get("release", {}).get("panic", "unwind") == "unwind", "release must unwind"
print("release profile: panics unwind")

# The image.
dockerfile = DockerfileParser(path=str(root / "Dockerfile"))
stages = [i for i in dockerfile.structure if i["instruction"] == "FROM"]
assert len(stages) >= 2, "a multi-stage build"
assert stages[0]["value"].startswith("rust:"), "built with the Rust toolchain"
final = dockerfile.structure[
    max(i for i, x in enumerate(dockerfile.structure) if x["instruction"] == "FROM"):
]
values = lambda name: [x["value"] for x in final if x["instruction"] == name]
runs = " ".join(x["value"] for x in dockerfile.structure if x["instruction"] == "RUN")
assert "cargo build --release --locked -p embedd" in runs
assert "embedd fetch" in runs, "models fetched by embedd itself"
users = values("USER")
assert users and users[-1] not in ("root", "0"), f"runs as a non-root user, not {users}"
assert any("--from=build" in v and "embedd" in v for v in values("COPY")), "only the binary is copied"
assert any("/ready" in v for v in values("HEALTHCHECK")), "the image checks /ready"
assert values("ENTRYPOINT") == ['["embedd"]']
print("Dockerfile: multi-stage, non-root, fetches models, checks /ready")

# The compose stack: the seed's services, Redis, and embedd checked on /ready.
compose = yaml.safe_load((deploy / "compose.yaml").read_text())
services = compose["services"]
assert {"embedd", "ollama", "sentence-transformers", "redis"} <= set(services)
assert "/ready" in " ".join(services["embedd"]["healthcheck"]["test"])
assert services["embedd"]["depends_on"]["redis"]["condition"] == "service_healthy"
assert all("healthcheck" in s for s in services.values()), "every service has a health check"
print("compose: the seed's stack with health checks")

# Kubernetes: probes, and the same configuration text as compose mounts.
kube = deploy / "kubernetes"
docs = [d for f in sorted(kube.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
kinds = {d["kind"] for d in docs}
assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
        "PodDisruptionBudget"} <= kinds, kinds
deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "embedd")
container = deployment["spec"]["template"]["spec"]["containers"][0]
assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
assert container["livenessProbe"]["httpGet"]["path"] == "/health"
assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
configmap = next(d for d in docs if d["kind"] == "ConfigMap")
assert configmap["data"]["embedd.yaml"] == (deploy / "embedd.yaml").read_text(), \
    "deploy/kubernetes/configmap.yaml holds deploy/embedd.yaml's text"
resources = yaml.safe_load((kube / "kustomization.yaml").read_text())["resources"]
assert sorted(resources) == sorted(p.name for p in kube.glob("*.yaml") if p.name != "kustomization.yaml")
print("kubernetes: probes on /ready and /health, the shared configuration, every file applied")
