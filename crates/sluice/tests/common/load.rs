//! pgbench load through Sluice as `app`, for tests that change something under it (a password
//! rotation, a reload) and then check that no transaction failed.

use std::net::SocketAddr;
use std::time::Duration;

use super::{APP, APP_PASSWORD};

/// `pgbench -i` through Sluice, as `app`.
pub fn init_pgbench(addr: SocketAddr) {
    let port = addr.port().to_string();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        APP,
        "-i",
        "-s",
        "1",
        "-q",
        APP,
    ];
    let out =
        test_support::run_client("pgbench", &args, APP_PASSWORD, Duration::from_secs(120)).unwrap();
    super::succeeded(&out);
}

/// pgbench (TPC-B-like, 4 clients) for `seconds`, its clients logged in at the start; returns
/// its stdout.
pub fn pgbench(addr: SocketAddr, seconds: u32) -> tokio::task::JoinHandle<String> {
    let port = addr.port().to_string();
    let seconds = seconds.to_string();
    tokio::task::spawn_blocking(move || {
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            APP,
            "-n",
            "-c",
            "4",
            "-j",
            "2",
            "-T",
            &seconds,
            APP,
        ];
        let out = test_support::run_client("pgbench", &args, APP_PASSWORD, Duration::from_secs(60))
            .unwrap();
        super::succeeded(&out)
    })
}

pub fn assert_no_failures(stdout: &str) {
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("number of") || l.starts_with("tps"))
    {
        println!("{line}");
    }
    assert!(
        stdout.contains("number of failed transactions: 0 "),
        "{stdout}"
    );
    let processed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(processed > 0, "{stdout}");
}
