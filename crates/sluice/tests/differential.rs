//! Differential test: the same message sequences sent to Sluice and straight to PostgreSQL get
//! the same replies, message for message (process ids and cancel keys aside).
#![allow(clippy::unwrap_used)]

mod common;

use common::wire::{bind, close, describe, execute, parse, sync};

use common::{Fixture, Options, MD5_PASSWORD, MD5_USER};
use test_support::raw::{query_message, RawConn};
use test_support::HbaAuth;

type Reply = Vec<(u8, Vec<u8>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_answers_like_postgres() {
    let fx = Fixture::start_with(Options {
        max_connections: 2,
        cluster_auth: HbaAuth::Md5,
        ..Options::default()
    })
    .await;
    let mut via_sluice = common::raw_login(&fx.addr.to_string()).await;
    let mut direct = common::raw_login(&fx.pg.addr()).await;
    for (name, request, syncs) in scenarios() {
        let a = exchange(&mut via_sluice, &request, syncs).await;
        let b = exchange(&mut direct, &request, syncs).await;
        assert_eq!(render(&a), render(&b), "scenario {name:?} differs");
    }
}

/// Sends `request` and reads until `syncs` ReadyForQuery messages have arrived.
async fn exchange(conn: &mut RawConn, request: &[u8], syncs: usize) -> Reply {
    conn.send(request).await.unwrap();
    let mut replies = Vec::new();
    for _ in 0..syncs {
        replies.extend(conn.recv_until_ready().await.unwrap());
    }
    replies
}

/// Tags and bodies, with what legitimately differs between two sessions masked.
fn render(replies: &Reply) -> Vec<String> {
    replies
        .iter()
        .map(|(tag, body)| match tag {
            b'K' => "K <key>".to_owned(),
            // Notifications carry the sender's process id.
            b'A' => format!("A <pid>{}", String::from_utf8_lossy(&body[4..])),
            _ => format!(
                "{} {}",
                *tag as char,
                String::from_utf8_lossy(body).replace('\0', "|")
            ),
        })
        .collect()
}

fn scenarios() -> Vec<(&'static str, Vec<u8>, usize)> {
    let q = query_message;
    vec![
        ("simple", q("SELECT 1 AS one, 'two' AS two"), 1),
        ("multi-statement", q("SELECT 1; SELECT 2; VALUES (3)"), 1),
        ("empty query", q(""), 1),
        ("error", q("SELECT 1/0"), 1),
        ("notice", q("DO $$ BEGIN RAISE NOTICE 'hi'; END $$"), 1),
        (
            "transaction",
            q("BEGIN; CREATE TEMP TABLE d (x int); INSERT INTO d VALUES (1), (2)"),
            1,
        ),
        ("failed transaction", q("SELECT nope"), 1),
        ("in failed transaction", q("SELECT 1"), 1),
        ("rollback", q("ROLLBACK"), 1),
        (
            "unnamed extended",
            [
                parse("", "SELECT $1::int"),
                bind(""),
                describe(b'P', ""),
                execute(),
                sync(),
            ]
            .concat(),
            1,
        ),
        (
            "named prepare",
            [parse("s1", "SELECT 42"), describe(b'S', "s1"), sync()].concat(),
            1,
        ),
        ("named execute", [bind("s1"), execute(), sync()].concat(), 1),
        (
            "named execute again",
            [bind("s1"), describe(b'P', ""), execute(), sync()].concat(),
            1,
        ),
        (
            "pipelined",
            [bind("s1"), execute(), sync(), bind("s1"), execute(), sync()].concat(),
            2,
        ),
        ("close", [close("s1"), sync()].concat(), 1),
        (
            "closed statement",
            [bind("s1"), execute(), sync()].concat(),
            1,
        ),
        ("close unknown", [close("never"), sync()].concat(), 1),
        (
            "error mid-batch",
            [
                parse("bad", "SELEKT"),
                bind("bad"),
                execute(),
                parse("s2", "SELECT 2"),
                sync(),
            ]
            .concat(),
            1,
        ),
        (
            "after error",
            [parse("s2", "SELECT 2"), bind("s2"), execute(), sync()].concat(),
            1,
        ),
        (
            "copy out",
            q("COPY (SELECT generate_series(1, 3)) TO STDOUT"),
            1,
        ),
        ("set and show", q("SET work_mem = '3MB'; SHOW work_mem"), 1),
        ("show after set", q("SHOW work_mem"), 1),
        ("reset", q("RESET work_mem; SHOW work_mem"), 1),
        (
            "set application_name",
            q("SET application_name = 'diff'"),
            1,
        ),
        ("show application_name", q("SHOW application_name"), 1),
        (
            "prepare to deallocate",
            [parse("s4", "SELECT 4"), sync()].concat(),
            1,
        ),
        ("deallocate protocol statement", q("DEALLOCATE s4"), 1),
        ("deallocated", [bind("s4"), execute(), sync()].concat(), 1),
        ("deallocate unknown", q("DEALLOCATE never_prepared"), 1),
        // Last, since it pins the Sluice client to its server connection.
        (
            "temp table",
            q("CREATE TEMP TABLE d (x int); INSERT INTO d VALUES (1), (2)"),
            1,
        ),
        (
            "pinned",
            [
                parse("s3", "SELECT count(*) FROM d"),
                bind("s3"),
                execute(),
                sync(),
            ]
            .concat(),
            1,
        ),
        ("cleanup", q("DROP TABLE IF EXISTS d"), 1),
    ]
}

/// Logs in with extra startup parameters; returns the ParameterStatus values, or the error.
async fn greeting(addr: &str, extra: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
    let mut params = vec![("user", MD5_USER), ("database", MD5_USER)];
    params.extend_from_slice(extra);
    let mut conn = RawConn::connect(addr).await.unwrap();
    conn.send(&test_support::raw::startup_message(&params))
        .await
        .unwrap();
    let (tag, body) = conn.recv().await.unwrap().unwrap();
    assert_eq!(
        (tag, &body[..4]),
        (b'R', &[0, 0, 0, 5][..]),
        "expected an md5 request"
    );
    let salt = [body[4], body[5], body[6], body[7]];
    let answer = test_support::raw::md5_password(MD5_USER, MD5_PASSWORD, salt);
    conn.send(&test_support::raw::password_message(&answer))
        .await
        .unwrap();
    let mut reported = Vec::new();
    while let Some((tag, body)) = conn.recv().await.unwrap() {
        match tag {
            b'S' => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let mut parts = text.split('\0');
                reported.push((
                    parts.next().unwrap().to_owned(),
                    parts.next().unwrap().to_owned(),
                ));
            }
            b'E' => {
                let fields = test_support::raw::error_fields(&body);
                let code = fields.iter().find(|(k, _)| *k == b'C').unwrap().1.clone();
                return Err(code);
            }
            b'Z' => break,
            _ => {}
        }
    }
    reported.sort();
    Ok(reported)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_settings_are_reported_as_postgres_reports_them() {
    let fx = Fixture::start_with(Options {
        cluster_auth: HbaAuth::Md5,
        ..Options::default()
    })
    .await;
    let settings: &[(&str, &str)] = &[
        ("application_name", "diff-app"),
        ("DateStyle", "iso"),
        ("TimeZone", "utc"),
        (
            "options",
            "-c IntervalStyle=iso_8601 -c statement_timeout=5s",
        ),
    ];
    for extra in [&[][..], settings] {
        let direct = greeting(&fx.pg.addr(), extra).await;
        let via_sluice = greeting(&fx.addr.to_string(), extra).await;
        assert_eq!(via_sluice, direct, "startup parameters {extra:?}");
    }
    // A setting PostgreSQL refuses at login is refused at login through Sluice too.
    let bad: &[(&str, &str)] = &[("statement_timeout", "not a duration")];
    let direct = greeting(&fx.pg.addr(), bad).await;
    assert!(direct.is_err());
    assert_eq!(greeting(&fx.addr.to_string(), bad).await, direct);
}
