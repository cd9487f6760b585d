//! The files in packaging/ stay true to the code: the Grafana dashboard queries only metrics
//! Sluice exposes, and the Kubernetes ConfigMap holds a configuration Sluice accepts.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{admin_http, Fixture, Options};

const DASHBOARD: &str = include_str!("../../../packaging/grafana/sluice-dashboard.json");
const CONFIGMAP: &str = include_str!("../../../packaging/kubernetes/configmap.yaml");

/// Every `sluice_...` metric name in the dashboard's queries.
fn dashboard_metrics() -> BTreeSet<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("sluice_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_queries_only_metrics_sluice_exposes() {
    let names = dashboard_metrics();
    assert!(names.len() > 15, "{names:?}");
    let fx = Fixture::start_with(Options {
        standbys: 1,
        extra_sections: "[admin]\nlisten = \"127.0.0.1:0\"\n",
        ..Options::default()
    })
    .await;
    let admin = fx.admin_addr.unwrap();
    // A standby's replay lag is exposed once the monitor has probed it.
    let probed = common::eventually(Duration::from_secs(10), || async {
        admin_http::get(admin, "/metrics")
            .await
            .1
            .contains("sluice_target_replay_lag_seconds{")
    })
    .await;
    assert!(probed, "the standby was never probed");
    let _client = fx.client().await;
    let exposed = admin_http::get(admin, "/metrics").await.1;
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            !exposed.lines().any(|line| {
                line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics Sluice does not expose: {missing:?}"
    );
}

#[test]
fn the_kubernetes_configmap_holds_a_valid_configuration() {
    let start = CONFIGMAP.find("sluice.toml: |\n").unwrap() + "sluice.toml: |\n".len();
    let toml: String = CONFIGMAP[start..]
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    let config = config::Config::from_toml_str(&toml).unwrap();
    assert_eq!(config.proxy.listen.port(), 6432);
    assert_eq!(config.admin.listen.unwrap().port(), 9930);
    assert_eq!(config.endpoints.len(), 1);
}
