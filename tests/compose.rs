//! `docker-compose.yml` cannot be run here (no Docker engine), so its shape is checked: it
//! parses, it has Redis, PostgreSQL and three `flashbench serve` replicas sharing Redis, and
//! every replica's command is a valid flashbench command line.

use clap::Parser;
use flashbench::cli::{Cli, Command};
use serde_yaml::Value;

#[test]
fn compose_file_describes_three_replicas_sharing_redis() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml")).expect("read");
    let doc: Value = serde_yaml::from_str(&text).expect("docker-compose.yml parses");
    let services = doc["services"].as_mapping().expect("services");
    assert!(services.contains_key("redis") && services.contains_key("postgres"));
    let replicas: Vec<&Value> =
        services.iter().filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("serve-"))).map(|(_, v)| v).collect();
    assert_eq!(replicas.len(), 3);
    let mut instances = Vec::new();
    for r in replicas {
        let args: Vec<String> = r["command"]
            .as_sequence()
            .expect("command list")
            .iter()
            .map(|a| a.as_str().expect("string arg").replace("${STRATEGY:-lua}", "lua"))
            .collect();
        let cli =
            Cli::try_parse_from(std::iter::once("flashbench".to_string()).chain(args)).expect("valid command line");
        let Command::Serve(serve) = cli.command else { panic!("replicas run `serve`") };
        assert_eq!(serve.backend.name(), "redis");
        assert_eq!(serve.redis_prefix, "shop", "replicas share one store");
        instances.push(serve.instance);
    }
    instances.sort_unstable();
    assert_eq!(instances, vec![0, 1, 2], "instance numbers keep order ids apart");
}
