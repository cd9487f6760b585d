//! Bad input gets a clear error and never a panic, a hang or unbounded memory.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, Options, MD5_PASSWORD, MD5_USER};
use test_support::raw::{error_fields, query_message, RawConn};

async fn logged_in(fx: &Fixture) -> RawConn {
    common::raw_login(&fx.addr.to_string()).await
}

/// Reads until EOF and returns the SQLSTATE of the last ErrorResponse.
async fn fatal_then_close(raw: &mut RawConn) -> String {
    let mut code = String::new();
    while let Some((tag, body)) = raw.recv().await.unwrap() {
        if tag == b'E' {
            let fields = error_fields(&body);
            let get = |c| fields.iter().find(|(k, _)| *k == c).map(|(_, v)| v.clone());
            assert_eq!(get(b'S').as_deref(), Some("FATAL"));
            code = get(b'C').unwrap();
        }
    }
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_type_is_a_protocol_violation() {
    let fx = Fixture::start().await;
    let mut raw = logged_in(&fx).await;
    raw.send(&[b'!', 0, 0, 0, 4]).await.unwrap();
    assert_eq!(fatal_then_close(&mut raw).await, "08P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_is_refused_before_it_arrives() {
    let fx = Fixture::start_with(Options {
        max_message_size: "1MiB",
        ..Options::default()
    })
    .await;
    let mut raw = logged_in(&fx).await;
    // Declares 1 GiB and sends nothing more: Sluice must not wait for (or allocate) it.
    raw.send(&[b'Q', 0x40, 0, 0, 0]).await.unwrap();
    assert_eq!(fatal_then_close(&mut raw).await, "08P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn length_below_four_is_a_protocol_violation() {
    let fx = Fixture::start().await;
    let mut raw = logged_in(&fx).await;
    raw.send(&[b'Q', 0, 0, 0, 2]).await.unwrap();
    assert_eq!(fatal_then_close(&mut raw).await, "08P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_message_after_login_is_a_protocol_violation() {
    let fx = Fixture::start().await;
    let mut raw = logged_in(&fx).await;
    raw.send(&test_support::raw::password_message("again"))
        .await
        .unwrap();
    assert_eq!(fatal_then_close(&mut raw).await, "08P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_startup_packets_are_refused() {
    let fx = Fixture::start().await;
    for packet in [
        vec![0, 0, 0, 3],                                      // length below the minimum
        vec![0x7f, 0, 0, 0],                                   // length over the startup limit
        vec![0, 0, 0, 9, 0, 2, 0, 0, 0],                       // protocol 2
        vec![0, 0, 0, 12, 0, 3, 0, 0, b'u', b's', b'e', b'r'], // unterminated parameter
    ] {
        let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
        raw.send(&packet).await.unwrap();
        assert_eq!(
            fatal_then_close(&mut raw).await,
            "08P01",
            "packet {packet:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_partial_startup_packet_is_closed_at_the_login_deadline() {
    let fx = Fixture::start_with(Options {
        login_timeout: "1s",
        ..Options::default()
    })
    .await;
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    raw.send(&[0, 0, 0, 40, 0, 3]).await.unwrap();
    let started = Instant::now();
    let code = fatal_then_close(&mut raw).await;
    assert_eq!(code, "08P01");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_and_gssenc_requests_are_answered_n() {
    let fx = Fixture::start().await;
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    raw.send(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
        .await
        .unwrap(); // GSSENCRequest
    assert_eq!(raw.recv_single_byte().await.unwrap(), b'N');
    raw.send(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .unwrap(); // SSLRequest
    assert_eq!(raw.recv_single_byte().await.unwrap(), b'N');
    raw.login_md5(MD5_USER, MD5_PASSWORD, MD5_USER)
        .await
        .unwrap();
    raw.send(&query_message("SELECT 1")).await.unwrap();
    let replies = raw.recv_until_ready().await.unwrap();
    assert!(replies.iter().any(|(tag, _)| *tag == b'D'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_closed_after_idle_client_timeout() {
    let fx = Fixture::start_with(Options {
        idle_client_timeout: "1s",
        ..Options::default()
    })
    .await;
    let mut raw = logged_in(&fx).await;
    assert_eq!(fatal_then_close(&mut raw).await, "57P05");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_the_limit_get_53300() {
    let fx = Fixture::start_with(Options {
        max_client_connections: 2,
        ..Options::default()
    })
    .await;
    let _a = fx.client().await;
    let _b = fx.client().await;
    let err = fx
        .try_client(common::APP, common::APP_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"));
}
