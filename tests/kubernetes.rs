//! `deploy/kubernetes/`: the manifests pass the Kubernetes OpenAPI schema check offline
//! (`kubernetes-validate --strict`, which CI installs; a broken copy fails it), and agree with
//! each other and with flashbench: the Indexed Job's shard count, the release instant, the
//! scenario in the ConfigMap, one image for the shards and the merge.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn manifests() -> Vec<PathBuf> {
    let dir = repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes").join(name)).expect("manifest");
    serde_yaml::from_str(&text).expect("yaml")
}

/// Whether `kubernetes-validate` can run here; in CI it must.
fn validator() -> bool {
    let found = std::process::Command::new("kubernetes-validate").arg("--version").output().is_ok();
    if !found {
        assert!(!required(), "kubernetes-validate is required in CI (pip install kubernetes-validate)");
        eprintln!("SKIPPED: kubernetes-validate is not installed (pip install kubernetes-validate)");
    }
    found
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    std::process::Command::new("kubernetes-validate").arg("--strict").args(files).output().expect("run")
}

#[test]
fn the_manifests_pass_the_kubernetes_schema() {
    if !validator() {
        return;
    }
    let files = manifests();
    assert_eq!(files.len(), 4, "{files:?}");
    let out = validate(&files);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches(" passed for resource ").count(), 4, "{text}");
    // The check has teeth: a misspelt field and a wrong value fail it.
    let dir = tempfile::tempdir().expect("tempdir");
    let job = std::fs::read_to_string(repo().join("deploy/kubernetes/shards-job.yaml")).expect("job");
    for (from, to) in [("completions: 4", "completions: four"), ("backoffLimit: 0", "backofLimit: 0")] {
        let broken = dir.path().join("job.yaml");
        std::fs::write(&broken, job.replace(from, to)).expect("write");
        assert!(!validate(&[broken]).status.success(), "{to} passed the schema check");
    }
}

#[test]
fn the_indexed_job_the_merge_and_the_scenario_agree() {
    let job = yaml("shards-job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"], "every shard runs at once");
    assert_eq!(spec["backoffLimit"], 0, "a retried shard would miss the release");
    let n = spec["completions"].as_u64().expect("completions");
    let container = &spec["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let after = |flag: &str| args.iter().position(|a| *a == flag).and_then(|i| args.get(i + 1)).copied();
    assert_eq!(after("--shard"), Some(format!("$(SHARD_INDEX)/{n}").as_str()));
    assert_eq!(after("--release-at"), Some("$(RELEASE_AT)"));
    assert_eq!(after("--out"), Some("/parts/shard-$(SHARD_INDEX)"));
    let env = container["env"].as_array().expect("env");
    let index = env.iter().find(|e| e["name"] == "SHARD_INDEX").expect("SHARD_INDEX");
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let merge = yaml("merge-job.yaml");
    let merge_container = &merge["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(merge_container["image"], container["image"], "shards and merge run one flashbench");
    let merge_args = merge_container["args"][0].as_str().expect("merge args");
    assert!(merge_args.starts_with("flashbench merge /parts/shard-* "), "{merge_args}");
    let claims = |doc: &Value| -> Vec<String> {
        doc["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str().map(str::to_string))
            .collect()
    };
    let pvc = yaml("parts-pvc.yaml");
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany", "every pod writes its part at once");
    assert_eq!(claims(&job), [pvc["metadata"]["name"].as_str().expect("name")]);
    assert_eq!(claims(&merge), claims(&job));

    let config = yaml("configmap.yaml");
    let release = config["data"]["RELEASE_AT"].as_str().expect("RELEASE_AT");
    assert!(flashbench::shard::release::parse_release_at(release).is_ok(), "{release}");
    let scenario = config["data"]["scenario.yaml"].as_str().expect("scenario.yaml");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("scenario.yaml");
    // The truth URL comes from the pod's environment (a Secret); any URL does for validation.
    std::fs::write(&file, scenario.replace("${SHOP_DATABASE_URL}", "sqlite://shop.db")).expect("write");
    assert!(scenario.contains("${SHOP_DATABASE_URL}"), "the database URL is not written into the ConfigMap");
    let s = flashbench::scenario::load(&file).expect("the ConfigMap's scenario is valid");
    assert_eq!(s.target.kind, flashbench::scenario::target::TargetKind::Http, "shards need an http target");
    let buyers = u64::from(s.buyers.count);
    assert!(buyers / n <= 19_000, "each shard's buyers fit one pod's open files");
}
