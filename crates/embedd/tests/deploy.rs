//! The shipping files validate with the tools their users run: `docker-compose config` for the
//! compose stack, the Kubernetes API schemas (`kubernetes-validate --strict`) for the manifests,
//! embedd itself for the configuration they share, and deploy_check.py for what each promises
//! (non-root image, probes on /ready and /health, one configuration text).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{embedd, python_with};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ok(output: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_image_compose_stack_and_manifests_validate() {
    let root = root();
    let python = python_with(&["kubernetes-validate==1.37.0", "dockerfile-parse==2.0.1"]);
    let checked = ok(
        Command::new(&python)
            .arg(root.join("crates/embedd/tests/deploy_check.py"))
            .arg(&root)
            .output()
            .expect("python"),
        "deploy_check.py",
    );
    assert!(checked.contains("kubernetes: probes"), "{checked}");

    let kube = root.join("deploy/kubernetes");
    let manifests: Vec<PathBuf> = std::fs::read_dir(&kube)
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    assert!(manifests.len() >= 6);
    let validated = ok(
        Command::new(&python)
            .args(["-m", "kubernetes_validate", "--strict"])
            .args(&manifests)
            .output()
            .expect("kubernetes-validate"),
        "kubernetes-validate",
    );
    assert!(
        validated.contains("passed for resource deployment/embedd"),
        "{validated}"
    );

    // The compose file as Docker's own client reads it; the keys must be given.
    let compose = root.join("deploy/compose.yaml");
    let config = Command::new("docker-compose")
        .arg("-f")
        .arg(&compose)
        .args(["config", "-q"])
        .env("EMBEDD_API_KEYS", "sk-example")
        .output()
        .expect("docker-compose (scripts/test.sh installs Debian's docker-compose)");
    ok(config, "docker-compose config");
    let keyless = Command::new("docker-compose")
        .arg("-f")
        .arg(&compose)
        .args(["config", "-q"])
        .env_remove("EMBEDD_API_KEYS")
        .output()
        .expect("docker-compose");
    assert!(
        !keyless.status.success(),
        "the stack refuses to start without keys"
    );

    // The configuration both use is one embedd accepts, with every model it names.
    let listed = ok(
        embedd()
            .args(["models", "--config"])
            .arg(root.join("deploy/embedd.yaml"))
            .output()
            .expect("embedd models"),
        "embedd models",
    );
    for model in [
        "all-minilm-l6-v2",
        "all-mpnet-base-v2",
        "nomic-embed-text",
        "local-fallback",
    ] {
        assert!(listed.contains(model), "{model} in {listed}");
    }
}
