//! pgbench load through Sluice as `app`, for tests that change something under it (a password
//! rotation, a reload) and then check that no transaction failed.

use std::net::SocketAddr;
use std::time::Duration;

use super::{APP, APP_PASSWORD};

/// pgbench against `127.0.0.1:port` (Sluice, or PostgreSQL itself) as `app` with `args`, on the
/// calling thread; its output, whatever the outcome.
pub fn run_pgbench(port: u16, args: &[&str]) -> std::process::Output {
    let port = port.to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", port.as_str(), "-U", APP];
    all.extend_from_slice(args);
    all.push(APP);
    test_support::run_client("pgbench", &all, APP_PASSWORD, Duration::from_secs(120)).unwrap()
}

/// `pgbench -i` through Sluice, as `app`.
pub fn init_pgbench(addr: SocketAddr) {
    super::succeeded(&run_pgbench(addr.port(), &["-i", "-s", "1", "-q"]));
}

/// pgbench (TPC-B-like, 4 clients) for `seconds`, its clients logged in at the start; returns
/// its stdout.
pub fn pgbench(addr: SocketAddr, seconds: u32) -> tokio::task::JoinHandle<String> {
    load(addr, &["-n", "-c", "4", "-j", "2"], seconds)
}

/// Select-only pgbench (4 clients) for `seconds`; returns its stdout.
pub fn select_only(addr: SocketAddr, seconds: u32) -> tokio::task::JoinHandle<String> {
    load(addr, &["-S", "-c", "4"], seconds)
}

/// pgbench with `args` for `seconds` on the blocking pool; its stdout once it succeeded.
fn load(addr: SocketAddr, args: &[&str], seconds: u32) -> tokio::task::JoinHandle<String> {
    let seconds = seconds.to_string();
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["-T".to_string(), seconds]);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        super::succeeded(&run_pgbench(addr.port(), &args))
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
