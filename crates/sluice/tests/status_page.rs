//! The status page at `/` on the admin listener: served as self-contained HTML under a strict
//! Content-Security-Policy, and, loaded in headless Chromium, filled with live figures from
//! the running Sluice.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::admin_http::{get_json, get_response};
use common::{eventually, Fixture, Options, APP, APP_PASSWORD};
use serde_json::Value;
use tokio_postgres::Client;

const ADMIN: &str = "[admin]\nlisten = \"127.0.0.1:0\"\nusers = [\"app\"]\n";

fn with_admin(standby: bool) -> Options {
    Options {
        extra_sections: ADMIN,
        standbys: usize::from(standby),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_self_contained_html_under_a_strict_policy() {
    let fx = Fixture::start_with(with_admin(false)).await;
    let page = get_response(fx.admin_addr.unwrap(), "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.body.starts_with("<!doctype html>"), "{}", page.body);
    assert!(page.body.contains("id=\"clients-connected\""));

    let lower = page.body.to_ascii_lowercase();
    for outside in [
        "http://",
        "https://",
        "<script src",
        "<link",
        "@import",
        "url(",
        "src=\"//",
    ] {
        assert!(!lower.contains(outside), "the page refers to {outside:?}");
    }
    assert!(
        lower.contains("fetch(`api/status"),
        "the page polls a relative URL"
    );

    let policy = &page.headers["content-security-policy"];
    for directive in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_status_counts_clients_and_reports_events_once() {
    let fx = Fixture::start_with(with_admin(false)).await;
    let admin = fx.admin_addr.unwrap();
    let clients = open_clients(&fx, 2).await;
    let refused = fx.try_client(APP, "not-the-password").await;
    assert!(refused.is_err());

    let status = get_json(admin, "/api/status").await;
    assert_eq!(status["clients"]["connected"], 2, "{status}");
    assert_eq!(status["writer"], fx.pg.addr(), "{status}");
    assert_eq!(status["servers"]["max"], 5, "{status}");
    let events = kinds(&status);
    assert!(events.contains(&"writer_elected".into()), "{status}");
    assert!(events.contains(&"auth_failed".into()), "{status}");
    let refusal = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "auth_failed")
        .unwrap();
    let detail = refusal["detail"].as_str().unwrap();
    assert!(detail.contains("\"app\""), "{detail}");
    assert!(!detail.contains("not-the-password"), "{detail}");

    // The page asks only for events it has not seen.
    let last = status["events"].as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    let later = get_json(admin, &format!("/api/status?events_after={last}")).await;
    assert_eq!(later["events"], Value::Array(vec![]), "{later}");
    drop(clients);
}

/// Real clients through a real Sluice, the page loaded in a real browser: the DOM the page's
/// script builds shows the running proxy's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_live_figures() {
    let chromium = chromium_binary();
    let fx = Fixture::start_with(with_admin(true)).await;
    let admin = fx.admin_addr.unwrap();
    let standby_addr = fx.standbys[0].addr();
    let clients = open_clients(&fx, 3).await;
    // One client holds a session advisory lock, so it stays pinned.
    clients[0]
        .simple_query("SELECT pg_advisory_lock(42)")
        .await
        .unwrap();
    for client in &clients {
        client.simple_query("SELECT 1").await.unwrap();
    }
    assert!(fx.try_client(APP, "wrong-password").await.is_err());
    let standby_known = eventually(Duration::from_secs(10), || async {
        let status = get_json(admin, "/api/status").await;
        status["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["role"] == "standby" && t["replay_lag_seconds"].is_f64())
    })
    .await;
    assert!(
        standby_known,
        "the standby and its replay lag should be probed"
    );

    let dom = dump_dom(&chromium, &format!("http://{admin}/")).await;

    assert_eq!(element_text(&dom, "clients-connected"), "3", "{dom}");
    assert_eq!(element_text(&dom, "writer"), fx.pg.addr(), "{dom}");
    let writer_row = format!("data-host=\"{}\" data-role=\"writer\"", fx.pg.addr());
    assert!(dom.contains(&writer_row), "{writer_row} missing:\n{dom}");
    let standby_row = format!("data-host=\"{standby_addr}\" data-role=\"standby\"");
    assert!(dom.contains(&standby_row), "{standby_row} missing:\n{dom}");
    assert!(
        dom.contains("<tr data-reason=\"advisory_lock\"><td>advisory_lock</td><td>1</td>"),
        "the pins table should show the pinned client:\n{dom}"
    );
    assert!(dom.contains("data-kind=\"writer_elected\""), "{dom}");
    assert!(dom.contains("data-kind=\"auth_failed\""), "{dom}");

    // The page polled several times and drew a line through what it saw.
    let points = chart_points(&dom, "clients");
    assert!(
        points.len() >= 2,
        "the clients chart has {points:?}:\n{dom}"
    );
    let height = |p: &String| p.split(',').nth(1).unwrap().to_owned();
    let flat = points.iter().all(|p| height(p) == height(&points[0]));
    assert!(flat, "3 clients throughout, so a flat line: {points:?}");
    assert!(
        dom.contains("<span id=\"error\" class=\"stale\" hidden=\"\"></span>"),
        "every poll should have succeeded:\n{dom}"
    );
    drop(clients);
}

/// A real failover, as the page's event list and targets table will show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_shows_as_events_and_a_new_writer() {
    let mut fx = Fixture::start_with(with_admin(true)).await;
    let admin = fx.admin_addr.unwrap();
    let (primary, standby) = (fx.pg.addr(), fx.standbys[0].addr());
    let elected = eventually(Duration::from_secs(10), || async {
        get_json(admin, "/api/status").await["writer"] == primary.as_str()
    })
    .await;
    assert!(elected);
    let before = get_json(admin, "/api/status").await;
    let seen = before["events"].as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();

    tokio::task::block_in_place(|| {
        fx.pg.stop(test_support::StopMode::Immediate).unwrap();
        fx.standbys[0].promote().unwrap();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let events = loop {
        let status = get_json(admin, &format!("/api/status?events_after={seen}")).await;
        let events = status["events"].as_array().unwrap().clone();
        if status["writer"] == standby.as_str() {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the promoted standby should be elected: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let found = |kind: &str, detail: &str| {
        events
            .iter()
            .any(|e| e["kind"] == kind && e["detail"].as_str().unwrap().contains(detail))
    };
    assert!(found("host_down", &primary), "{events:?}");
    assert!(found("writer_elected", &standby), "{events:?}");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.iter().all(|s| *s > seen),
        "only unseen events: {seqs:?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
}

async fn open_clients(fx: &Fixture, n: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..n {
        let client = fx.try_client(APP, APP_PASSWORD).await.unwrap();
        clients.push(client);
    }
    clients
}

fn kinds(status: &Value) -> Vec<String> {
    status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Debian's `chromium`. CI installs it (scripts/install-deps.sh); a machine without it fails
/// here rather than skipping the only test that runs the page's script.
fn chromium_binary() -> PathBuf {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .flat_map(|dir| candidates.map(|name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "headless Chromium is needed for the status page test: install it with \
             `apt-get install -y chromium` (scripts/install-deps.sh does)"
        )
    })
}

/// Loads `url` and returns the DOM once the page's script has had five seconds of virtual
/// time (five polls), without GPU, sandbox or any network traffic of Chromium's own.
async fn dump_dom(chromium: &PathBuf, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("chromium should finish within 90s")
        .expect("chromium should start");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The text of the element with this id (no nested markup).
fn element_text<'d>(dom: &'d str, id: &str) -> &'d str {
    let marker = format!("id=\"{id}\"");
    let start = dom.find(&marker).unwrap_or_else(|| panic!("no #{id}"));
    let text = &dom[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    &text[..text.find('<').unwrap()]
}

/// The "x,y" points of one series' polyline.
fn chart_points(dom: &str, series: &str) -> Vec<String> {
    let marker = format!("data-series=\"{series}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no {series} line"));
    let line_start = dom[..at].rfind("<polyline").unwrap();
    let line = &dom[line_start..at];
    let points = line.split("points=\"").nth(1).unwrap();
    let points = &points[..points.find('"').unwrap()];
    points.split_whitespace().map(str::to_owned).collect()
}
