//! `sluice demo`: a throwaway PostgreSQL cluster with Sluice in front of it, for a first try.

use anyhow::Context;
use config::Config;
use test_support::{ClusterOptions, PgCluster};

use crate::Proxy;

pub const DEMO_USER: &str = "app";
pub const DEMO_PASSWORD: &str = "app-password";

/// Starts PostgreSQL in a temp dir and Sluice on `listen`; runs until Ctrl-C.
pub async fn run_demo(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    eprintln!("starting a throwaway PostgreSQL cluster (initdb in a temp dir)...");
    let cluster = PgCluster::start_with(ClusterOptions::default())
        .await
        .context("could not start the demo PostgreSQL cluster")?;
    cluster.create_user(DEMO_USER, DEMO_PASSWORD).await?;
    cluster.create_database(DEMO_USER, DEMO_USER).await?;
    let config = Config::from_toml_str(&demo_config(listen, &cluster.addr()))?;
    let proxy = Proxy::bind(config).await?;
    let addr = proxy.local_addr();
    let admin = proxy
        .admin_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "\nSluice is listening on {addr}, in front of PostgreSQL on {} (transaction pooling).\n\
         Connect with:\n\n    psql \"postgres://{DEMO_USER}:{DEMO_PASSWORD}@{addr}/{DEMO_USER}\"\n\n\
         or benchmark it:\n\n    PGPASSWORD={DEMO_PASSWORD} pgbench -i -h {} -p {} -U {DEMO_USER} {DEMO_USER}\n    \
         PGPASSWORD={DEMO_PASSWORD} pgbench -c 50 -T 10 -h {} -p {} -U {DEMO_USER} {DEMO_USER}\n\n\
         Status page: http://{admin}/\n\
         Metrics and the JSON API: http://{admin}/metrics, http://{admin}/api/pools\n\
         Admin console: psql \"postgres://{DEMO_USER}:{DEMO_PASSWORD}@{addr}/sluice\" -c 'SHOW POOLS'\n\n\
         Press Ctrl-C to stop; the demo database is deleted on exit.",
        cluster.addr(),
        addr.ip(),
        addr.port(),
        addr.ip(),
        addr.port(),
    );
    let handle = proxy.shutdown_handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown();
    });
    proxy.run().await;
    drop(cluster);
    Ok(())
}

fn demo_config(listen: std::net::SocketAddr, pg: &str) -> String {
    format!(
        r#"
[proxy]
listen = "{listen}"
shutdown_timeout = "2s"

[database]
hosts = ["{pg}"]
max_connections = 10

[[users]]
name = "{DEMO_USER}"
password = "{DEMO_PASSWORD}"

[admin]
listen = "127.0.0.1:0"
users = ["{DEMO_USER}"]
"#
    )
}
