//! `[[access]]` rules and the failed-login limit, with real clients: in every cell of the
//! matrix (rule action x address match x rule methods x user's auth method, or unknown user x
//! right password) nobody gets in without the right password, and refusals carry the right
//! SQLSTATE.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, Options, APP, APP_PASSWORD, MD5_PASSWORD, MD5_USER};
use test_support::raw::{error_fields, startup_message, RawConn};

const UNKNOWN: &str = "nobody";

/// `[[access]]`: a rule with `action` for `address` and `methods` (empty: any), then the
/// opposite for everyone else, so a match and a miss each decide something.
fn rules(action: &str, address: &str, methods: &[&str]) -> String {
    let opposite = if action == "allow" { "reject" } else { "allow" };
    let methods: Vec<String> = methods.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "[[access]]\naction = \"{action}\"\naddress = \"{address}\"\n\
         users = [\"{APP}\", \"{MD5_USER}\", \"{UNKNOWN}\"]\nmethods = [{}]\n\n\
         [[access]]\naction = \"{opposite}\"\naddress = \"all\"\n",
        methods.join(", ")
    )
}

/// (SQLSTATE, message) of a failed login; None when the login worked and a query ran.
async fn login(fx: &Fixture, user: &str, password: &str) -> Option<(String, String)> {
    match fx.try_client(user, password).await {
        Ok(client) => {
            client.simple_query("SELECT 1").await.unwrap();
            None
        }
        Err(e) => {
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("{user}: no error from the server: {e}"));
            assert_eq!(db.severity(), "FATAL");
            Some((db.code().code().to_owned(), db.message().to_owned()))
        }
    }
}

/// Every cell of rule address (matching or not) x rule methods (any, SCRAM, md5) x user
/// (SCRAM, md5, unknown) x password (right or wrong), for one action. One PostgreSQL and one
/// Sluice: each rule set is put in place by a reload.
async fn check_matrix(action: &str) {
    let base_rules = rules(action, "all", &[]);
    let fx = Fixture::start_with(Options {
        extra_proxy: "max_failed_logins = 0",
        extra_config: base_rules.clone(),
        ..Default::default()
    })
    .await;
    // (user, its right password, the method it is asked for)
    let users = [
        (APP, APP_PASSWORD, "scram-sha-256"),
        (MD5_USER, MD5_PASSWORD, "md5"),
        (UNKNOWN, APP_PASSWORD, "scram-sha-256"),
    ];
    let method_lists: [&[&str]; 3] = [&[], &["scram-sha-256"], &["md5"]];
    // Tests connect from 127.0.0.1.
    for (address, address_matches) in [("127.0.0.0/8", true), ("10.0.0.0/8", false)] {
        for methods in method_lists {
            let text = fx
                .config_text
                .replace(&base_rules, &rules(action, address, methods));
            let config = config::Config::from_toml_str(&text).unwrap();
            fx.reload.reload(config).await.unwrap();
            for (user, right, method) in users {
                let rule_matches =
                    address_matches && (methods.is_empty() || methods.contains(&method));
                let allowed = (action == "allow") == rule_matches;
                for password in [right, "wrong-password"] {
                    let got = login(&fx, user, password).await;
                    let cell = format!("{action} {address} {methods:?} {user} {password}");
                    let may_enter = allowed && user != UNKNOWN && password == right;
                    check_cell(&cell, user, allowed, may_enter, got);
                }
            }
        }
    }
}

/// Nobody gets in without the right password; refusals say why, the same for every user.
fn check_cell(
    cell: &str,
    user: &str,
    allowed: bool,
    may_enter: bool,
    got: Option<(String, String)>,
) {
    match (may_enter, got) {
        (true, None) => {}
        (false, Some((code, message))) if allowed => {
            assert_eq!(code, "28P01", "{cell}");
            assert_eq!(
                message,
                format!("password authentication failed for user \"{user}\""),
                "{cell}"
            );
        }
        (false, Some((code, message))) => {
            assert_eq!(code, "28000", "{cell}");
            // Known and unknown users read the same, but for their name.
            let want = format!(
                "access rules reject connection for host \"127.0.0.1\", user \"{user}\", \
                 database \"{user}\""
            );
            assert_eq!(message, want, "{cell}");
        }
        (may_enter, got) => panic!("{cell}: may enter {may_enter}, got {got:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_rule_matrix() {
    check_matrix("allow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_rule_matrix() {
    check_matrix("reject").await;
}

/// A rejected client is refused right after its startup packet: no password is asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_comes_before_any_password_request() {
    let fx = Fixture::start_with(Options {
        extra_config: "[[access]]\naction = \"reject\"\nmethods = [\"md5\"]\n\n[[access]]\naction = \"allow\"\n".into(),
        ..Default::default()
    })
    .await;
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    raw.send(&startup_message(&[
        ("user", MD5_USER),
        ("database", MD5_USER),
    ]))
    .await
    .unwrap();
    let (tag, body) = raw.recv().await.unwrap().unwrap();
    assert_eq!(
        tag, b'E',
        "expected an ErrorResponse, not an authentication request"
    );
    assert!(error_fields(&body).contains(&(b'C', "28000".to_string())));
    assert!(fx.try_client(MD5_USER, MD5_PASSWORD).await.is_err());
    // The rule is about md5 users: app (SCRAM) and unknown users (asked for SCRAM) go on to
    // the password check.
    assert_eq!(login(&fx, APP, APP_PASSWORD).await, None);
    let (code, _) = login(&fx, UNKNOWN, "whatever").await.unwrap();
    assert_eq!(code, "28P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rules_allow_everyone_to_try() {
    let fx = Fixture::start().await;
    assert_eq!(login(&fx, APP, APP_PASSWORD).await, None);
    assert_eq!(login(&fx, APP, "wrong").await.unwrap().0, "28P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_address_and_recover() {
    let fx = Fixture::start_with(Options {
        extra_proxy: "max_failed_logins = 3\nfailed_login_window = \"3s\"",
        ..Default::default()
    })
    .await;
    assert_eq!(login(&fx, APP, "wrong-1").await.unwrap().0, "28P01");
    assert_eq!(login(&fx, UNKNOWN, "wrong-2").await.unwrap().0, "28P01");
    assert_eq!(
        login(&fx, APP, APP_PASSWORD).await,
        None,
        "successes do not count"
    );
    assert_eq!(login(&fx, MD5_USER, "wrong-3").await.unwrap().0, "28P01");
    // Over the limit: even the right password is refused, before any password exchange.
    let (code, message) = login(&fx, APP, APP_PASSWORD).await.unwrap();
    assert_eq!(code, "28000");
    assert!(
        message.starts_with("too many failed logins from 127.0.0.1; try again in "),
        "{message}"
    );
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    raw.send(&startup_message(&[("user", APP), ("database", APP)]))
        .await
        .unwrap();
    assert_eq!(raw.recv().await.unwrap().unwrap().0, b'E');
    // The window passes; the address may log in again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(login(&fx, APP, APP_PASSWORD).await, None);
}

/// Unknown users go through a SCRAM exchange with a fake verifier (keyed by a per-process
/// secret) that looks like a real one and fails at the same step, with the same text, in about
/// the same time as a wrong password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_look_like_wrong_passwords() {
    let fx = Fixture::start_with(Options {
        extra_proxy: "max_failed_logins = 0",
        ..Default::default()
    })
    .await;
    let addr = fx.addr.to_string();
    // The exchange has the same shape: same mechanism list, a stable salt per user name, the
    // same iteration count, and the failure after the client's proof.
    let known_first = scram_server_first(&addr, APP).await;
    let unknown_first = scram_server_first(&addr, UNKNOWN).await;
    assert_eq!(
        salt_and_iterations(&unknown_first),
        salt_and_iterations(&scram_server_first(&addr, UNKNOWN).await)
    );
    assert_eq!(
        salt_and_iterations(&known_first).1,
        salt_and_iterations(&unknown_first).1
    );
    assert_ne!(
        salt_and_iterations(&unknown_first).0,
        salt_and_iterations(&scram_server_first(&addr, "nobody-else").await).0
    );

    // Interleaved, so both see the same load from whatever else runs on the machine.
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        for (user, samples) in [(APP, &mut wrong), (UNKNOWN, &mut unknown)] {
            let started = Instant::now();
            let (code, _) = login(&fx, user, "wrong-password").await.unwrap();
            assert_eq!(code, "28P01");
            samples.push(started.elapsed());
        }
    }
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (wrong, unknown) = (median(wrong), median(unknown));
    println!("median failed login: wrong password {wrong:?}, unknown user {unknown:?}");
    let (fast, slow) = (wrong.min(unknown), wrong.max(unknown));
    // Neither side derives a key per login, so both are a few milliseconds; a real PBKDF2 on one
    // side only would be ~10x apart.
    assert!(
        slow < fast * 3 + Duration::from_millis(5),
        "median wrong password {wrong:?}, unknown user {unknown:?}"
    );
}

/// Sends a startup and a SCRAM client-first; returns the server-first message.
async fn scram_server_first(addr: &str, user: &str) -> String {
    let mut raw = RawConn::connect(addr).await.unwrap();
    raw.send(&startup_message(&[("user", user), ("database", user)]))
        .await
        .unwrap();
    let (tag, body) = raw.recv().await.unwrap().unwrap();
    assert_eq!(tag, b'R');
    assert_eq!(&body[..4], &10u32.to_be_bytes(), "AuthenticationSASL");
    assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
    let client_first = b"n,,n=,r=abcdefghijklmnopqrstuvwx";
    let mut msg = vec![b'p'];
    let mut payload = b"SCRAM-SHA-256\0".to_vec();
    payload.extend_from_slice(&(client_first.len() as u32).to_be_bytes());
    payload.extend_from_slice(client_first);
    msg.extend_from_slice(&((payload.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(&payload);
    raw.send(&msg).await.unwrap();
    let (tag, body) = raw.recv().await.unwrap().unwrap();
    assert_eq!(tag, b'R');
    assert_eq!(
        &body[..4],
        &11u32.to_be_bytes(),
        "AuthenticationSASLContinue"
    );
    String::from_utf8(body[4..].to_vec()).unwrap()
}

fn salt_and_iterations(server_first: &str) -> (String, String) {
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|f| f.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    (field("s="), field("i="))
}

/// IPv6 clients match IPv6 blocks, and not IPv4 ones: the binary listening on [::1].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_match_ipv6_rules() {
    let pg = test_support::PgCluster::start().await.unwrap();
    pg.create_user(APP, APP_PASSWORD).await.unwrap();
    pg.create_database(APP, APP).await.unwrap();
    let port = common::binary::free_port();
    let addr: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let config = format!(
        "[proxy]\nlisten = \"{addr}\"\n[database]\nhosts = [\"{}\"]\n\
         [[users]]\nname = \"{APP}\"\npassword = \"{APP_PASSWORD}\"\n\
         [[access]]\naction = \"allow\"\naddress = \"127.0.0.0/8\"\n\
         [[access]]\naction = \"reject\"\naddress = \"::1/128\"\ndatabases = [\"{APP}\"]\n\
         [[access]]\naction = \"allow\"\naddress = \"::/0\"\ndatabases = [\"postgres\"]\n",
        pg.addr()
    );
    let sluice = common::binary::SluiceProcess::start(&config, addr, "info", &[])
        .await
        .unwrap();
    let connstr = format!(
        "host=::1 port={port} user={APP} password={APP_PASSWORD} dbname={APP} connect_timeout=10"
    );
    let err = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
        .await
        .err()
        .expect("::1 is rejected for this database");
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "28000");
    assert_eq!(
        db.message(),
        format!(
            "access rules reject connection for host \"::1\", user \"{APP}\", database \"{APP}\""
        )
    );
    // Another database: the third rule (an IPv6 block) allows it; the password still counts.
    let other = connstr.replace(&format!("dbname={APP}"), "dbname=postgres");
    let (client, conn) = tokio_postgres::connect(&other, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.simple_query("SELECT 1").await.unwrap();
    let wrong = other.replace(APP_PASSWORD, "wrong");
    let err = tokio_postgres::connect(&wrong, tokio_postgres::NoTls)
        .await
        .err()
        .expect("a wrong password is refused");
    assert_eq!(err.as_db_error().unwrap().code().code(), "28P01");
    drop(sluice);
}
