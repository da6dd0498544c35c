//! Docker cannot run here, so compose.yaml is checked by reading it: the
//! services and variables the README promises must be in it.
use std::collections::BTreeSet;

use serde_yaml::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn compose() -> Value {
    serde_yaml::from_str(&read("compose.yaml")).expect("compose.yaml is valid YAML")
}

/// The services the README lists under "Services in compose.yaml".
fn readme_services() -> Vec<String> {
    let readme = read("README.md");
    let section = readme
        .split("### Services in compose.yaml")
        .nth(1)
        .expect("README names the compose services");
    section
        .lines()
        .skip(1)
        .take_while(|l| l.trim().is_empty() || l.starts_with("- "))
        .filter_map(|l| l.strip_prefix("- `"))
        .map(|l| l.split('`').next().unwrap().to_string())
        .collect()
}

/// Rows of the README's configuration table whose "compose" column says yes.
fn readme_compose_variables() -> Vec<String> {
    let readme = read("README.md");
    let section = readme.split("## Configuration").nth(1).expect("README has a configuration section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter(|l| l.split('|').nth(4).is_some_and(|c| c.trim() == "yes"))
        .map(|l| l.split('`').nth(1).unwrap().to_string())
        .collect()
}

fn environment(service: &Value) -> BTreeSet<String> {
    match &service["environment"] {
        Value::Mapping(m) => m.keys().filter_map(|k| k.as_str().map(String::from)).collect(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| v.split('=').next().unwrap().to_string())
            .collect(),
        _ => BTreeSet::new(),
    }
}

#[test]
fn every_service_the_readme_names_is_in_compose() {
    let compose = compose();
    let names = readme_services();
    assert!(names.len() >= 5, "README lists {names:?}");
    for name in names {
        assert!(
            compose["services"][name.as_str()].is_mapping(),
            "compose.yaml has no service `{name}`"
        );
    }
}

#[test]
fn the_mrjbot_services_get_every_variable_the_readme_says_compose_sets() {
    let compose = compose();
    let vars = readme_compose_variables();
    assert!(
        vars.contains(&"DATABASE_URL".to_string()) && vars.contains(&"NATS_URL".to_string()),
        "{vars:?}"
    );
    for service in ["mrjbot", "relay"] {
        let env = environment(&compose["services"][service]);
        for var in &vars {
            assert!(env.contains(var), "service `{service}` does not set {var}");
        }
    }
    let migrate = environment(&compose["services"]["migrate"]);
    assert!(migrate.contains("DATABASE_URL"));
}

#[test]
fn nats_runs_with_jetstream_and_the_services_start_in_order() {
    let compose = compose();
    let command: Vec<&str> = compose["services"]["nats"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(command.contains(&"-js"), "NATS without JetStream: {command:?}");
    assert_eq!(
        compose["services"]["mrjbot"]["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    let serve: Vec<&str> = compose["services"]["mrjbot"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(serve, ["serve", "--no-relay"], "the relay runs as its own service");
}
