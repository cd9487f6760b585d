//! The systemd notify protocol (Type=notify in packaging/systemd/sluice.service): the real
//! binary says READY=1 once it listens and STOPPING=1 when SIGTERM starts the drain.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::net::UnixDatagram;

async fn next_state(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(20), socket.recv(&mut buf))
        .await
        .expect("no notification from sluice within 20 s")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).trim().to_owned()
}

#[tokio::test]
async fn ready_when_listening_and_stopping_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let config = dir.path().join("sluice.toml");
    // No database needed to listen: the monitor just finds the host down.
    std::fs::write(
        &config,
        "[proxy]\nlisten = \"127.0.0.1:0\"\n[database]\nhosts = [\"127.0.0.1:9\"]\n\
         [[users]]\nname = \"app\"\npassword = \"pw\"\n[log]\nfilter = \"warn\"\n",
    )
    .unwrap();
    let mut sluice = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    assert_eq!(next_state(&socket).await, "READY=1");
    let pid = sluice.id().unwrap().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    assert_eq!(next_state(&socket).await, "STOPPING=1");
    let status = tokio::time::timeout(Duration::from_secs(20), sluice.wait())
        .await
        .expect("sluice did not exit after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
