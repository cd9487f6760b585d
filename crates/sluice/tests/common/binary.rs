//! The `sluice` binary as a child process, with its stderr (the log) captured to a file.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SluiceProcess {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    /// The configuration file it was started with (rewrite it, then [`Self::hangup`]).
    pub config_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A port that was free a moment ago (the binary must be told where to listen).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl SluiceProcess {
    /// Starts `sluice --config <file> --log-filter <filter>` with `config` (which must listen on
    /// `addr`) and `env`; waits until it accepts connections. `Err` holds the log when it exits
    /// instead. An empty `log_filter` leaves the filter to the file.
    pub async fn start(
        config: &str,
        addr: SocketAddr,
        log_filter: &str,
        env: &[(&str, &str)],
    ) -> Result<SluiceProcess, String> {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("sluice.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("sluice.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command.arg("--config").arg(&config_path);
        if !log_filter.is_empty() {
            command.args(["--log-filter", log_filter]);
        }
        let mut child = command
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("sluice exited ({status}):\n{text}"));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(SluiceProcess {
                    child,
                    addr,
                    log,
                    config_path,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        Err("sluice did not start listening within 10s".into())
    }

    /// SIGHUP: reload the configuration file.
    #[allow(dead_code)] // Not every test binary that includes this module reloads.
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    pub fn connstr(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "host={} port={} user={user} password={password} dbname={db} connect_timeout=10",
            self.addr.ip(),
            self.addr.port()
        )
    }
}

impl Drop for SluiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
