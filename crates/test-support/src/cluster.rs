//! A throw-away PostgreSQL cluster living in a temp dir.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tempfile::TempDir;

use crate::options::{conn_value, quote_ident, quote_literal};
use crate::options::{ClusterOptions, HbaAuth, StopMode};
use crate::process::{check, chown_for_server, run, server_command};

/// Upper bound for pg_ctl and friends; pg_ctl itself waits at most 60 s.
const SERVER_CMD_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts at starting on a fresh port when another process grabbed ours.
const PORT_ATTEMPTS: usize = 3;

/// A running PostgreSQL cluster in a temp dir; stopped
/// (`pg_ctl stop -m immediate`) and removed on drop, also when a test panics.
///
/// Layout of the temp dir: `data/` (PGDATA), `sock/` (unix socket, so
/// /var/run/postgresql permissions never matter), `server.log`.
pub struct PgCluster {
    // Drop::drop runs before fields are dropped, so the server is stopped
    // before the TempDir is deleted.
    dir: TempDir,
    data: PathBuf,
    port: u16,
    pub(crate) opts: ClusterOptions,
}

impl PgCluster {
    pub const SUPERUSER: &'static str = "postgres";
    pub const SUPERUSER_PASSWORD: &'static str = "postgres";
    pub const HOST: &'static str = "127.0.0.1";

    /// initdb + start with default options.
    pub async fn start() -> anyhow::Result<PgCluster> {
        Self::start_with(ClusterOptions::default()).await
    }

    /// initdb + start. Blocking work runs on tokio's blocking pool.
    pub async fn start_with(opts: ClusterOptions) -> anyhow::Result<PgCluster> {
        tokio::task::spawn_blocking(move || Self::init_and_start(opts)).await?
    }

    fn init_and_start(opts: ClusterOptions) -> anyhow::Result<PgCluster> {
        let mut cluster = Self::new_shell(opts)?;
        let pwfile = cluster.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", Self::SUPERUSER_PASSWORD))?;
        chown_for_server(cluster.dir.path())?;

        let mut initdb = server_command("initdb", cluster.dir.path())?;
        initdb
            .arg("-D")
            .arg(cluster.data_dir())
            .args([
                "-U",
                Self::SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--auth-host={}", cluster.opts.auth.method()))
            .arg("--auth-local=trust")
            .arg(format!("--pwfile={}", pwfile.display()));
        check(run(initdb, None, SERVER_CMD_TIMEOUT)?, "initdb")?;
        cluster.append_config()?;
        cluster.write_tls()?;
        cluster.start_on_fresh_port()?;

        // initdb stored the superuser password with its built-in default
        // (SCRAM); re-store it so md5 hba really negotiates md5.
        if cluster.opts.auth == HbaAuth::Md5 {
            cluster.psql(&format!(
                "ALTER ROLE {} PASSWORD {}",
                quote_ident(Self::SUPERUSER),
                quote_literal(Self::SUPERUSER_PASSWORD)
            ))?;
        }
        Ok(cluster)
    }

    /// Temp dir with an empty socket dir; no data dir, no server yet.
    pub(crate) fn new_shell(opts: ClusterOptions) -> anyhow::Result<PgCluster> {
        let dir = tempfile::Builder::new().prefix("sluice-pg-").tempdir()?;
        std::fs::create_dir(dir.path().join("sock"))?;
        let data = dir.path().join("data");
        Ok(PgCluster {
            dir,
            data,
            port: 0,
            opts,
        })
    }

    /// Defaults tuned for fast, disposable test servers, then user settings.
    fn append_config(&self) -> anyhow::Result<()> {
        let mut conf = String::from("\n# sluice-test-support\n");
        let defaults = [
            ("listen_addresses", "'127.0.0.1'".to_string()),
            ("max_connections", self.opts.max_connections.to_string()),
            ("fsync", "off".into()),
            ("synchronous_commit", "off".into()),
            ("full_page_writes", "off".into()),
            ("wal_level", "replica".into()),
            ("max_wal_senders", "10".into()),
            ("hot_standby", "on".into()),
            (
                "password_encryption",
                format!("'{}'", self.opts.auth.password_encryption()),
            ),
            ("log_line_prefix", "'%m [%p] %q%u@%d '".into()),
        ];
        let user = self
            .opts
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()));
        for (name, value) in defaults.into_iter().chain(user) {
            writeln!(conf, "{name} = {value}")?;
        }
        let path = self.data_dir().join("postgresql.conf");
        let mut old = std::fs::read_to_string(&path)?;
        old.push_str(&conf);
        // Rewriting in place keeps the file owned by the server user.
        std::fs::write(&path, old)?;
        Ok(())
    }

    /// Certificate and key into the data directory, `ssl = on`, and for `tls_only` a pg_hba
    /// rule ahead of initdb's that rejects plaintext TCP logins except the superuser's.
    fn write_tls(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let Some(tls) = &self.opts.tls else {
            return Ok(());
        };
        for (name, pem) in [("server.crt", &tls.cert_pem), ("server.key", &tls.key_pem)] {
            let path = self.data_dir().join(name);
            std::fs::write(&path, pem)?;
            // PostgreSQL refuses a key file that others can read.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            chown_for_server(&path)?;
        }
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text)?;
        if tls.tls_only {
            let hba = self.data_dir().join("pg_hba.conf");
            let method = self.opts.auth.method();
            let rules = format!(
                "host all {} all {method}\nhostnossl all all all reject\n",
                Self::SUPERUSER
            );
            let old = std::fs::read_to_string(&hba)?;
            std::fs::write(&hba, rules + &old)?;
        }
        Ok(())
    }

    /// Pick a free port and start; retry with a new port if the bind failed
    /// because a parallel test grabbed the port in between.
    pub(crate) fn start_on_fresh_port(&mut self) -> anyhow::Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port()?;
            let log_offset = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            match self.start_server() {
                Ok(()) => return Ok(()),
                Err(_) if attempt < PORT_ATTEMPTS && self.port_clash_since(log_offset) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn port_clash_since(&self, offset: u64) -> bool {
        let log = std::fs::read(self.log_path()).unwrap_or_default();
        let new = log.get(offset as usize..).unwrap_or_default();
        let new = String::from_utf8_lossy(new);
        new.contains("could not bind") || new.contains("Address already in use")
    }

    /// `pg_ctl start -w` on the current port and socket dir.
    fn start_server(&self) -> anyhow::Result<()> {
        let mut cmd = server_command("pg_ctl", self.dir.path())?;
        cmd.arg("start")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            // Port and socket dir go on the command line rather than into
            // postgresql.conf, which pg_basebackup copies to standbys.
            .arg("-o")
            .arg(format!(
                "-p {} -k '{}'",
                self.port,
                self.socket_dir().display()
            ));
        let out = run(cmd, None, SERVER_CMD_TIMEOUT)?;
        if !out.status.success() {
            bail!(
                "pg_ctl start on port {} failed: {}\n--- server log tail ---\n{}",
                self.port,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log_tail(40)
            );
        }
        Ok(())
    }

    pub fn host(&self) -> &str {
        Self::HOST
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("{}:{}", Self::HOST, self.port)
    }

    /// The temp dir holding data dir, socket dir and log.
    pub(crate) fn temp_root(&self) -> &Path {
        self.dir.path()
    }

    /// PGDATA of this cluster.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Directory of the server's unix socket (`psql -h <this>`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Server log (`pg_ctl -l`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Last `lines` lines of the server log (empty if there is none).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read(self.log_path()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// libpq key=value connection string for TCP.
    pub fn connstr(&self, user: &str, password: &str, dbname: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={}",
            Self::HOST,
            self.port,
            conn_value(user),
            conn_value(password),
            conn_value(dbname)
        )
    }

    /// Connect as the superuser over TCP; the connection task is spawned.
    pub async fn superuser(&self) -> anyhow::Result<tokio_postgres::Client> {
        self.connect(Self::SUPERUSER, Self::SUPERUSER_PASSWORD, "postgres")
            .await
    }

    /// Connect over TCP with tokio-postgres; the connection task is spawned.
    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> anyhow::Result<tokio_postgres::Client> {
        let connstr = self.connstr(user, password, dbname);
        let (client, conn) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
            .await
            .with_context(|| format!("connecting to {} as {user}", self.addr()))?;
        tokio::spawn(async move {
            // The error surfaces on the client's next call; nothing to do here.
            let _ = conn.await;
        });
        Ok(client)
    }

    /// `CREATE ROLE name LOGIN PASSWORD '...'`, stored per the cluster's
    /// `password_encryption` (md5 for [`HbaAuth::Md5`]).
    pub async fn create_user(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            quote_ident(name),
            quote_literal(password)
        );
        self.superuser().await?.batch_execute(&sql).await?;
        Ok(())
    }

    /// `CREATE DATABASE name OWNER owner`.
    pub async fn create_database(&self, name: &str, owner: &str) -> anyhow::Result<()> {
        let sql = format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(name),
            quote_ident(owner)
        );
        self.superuser().await?.batch_execute(&sql).await?;
        Ok(())
    }

    /// Run SQL with psql as superuser over the unix socket (trust auth), with
    /// `ON_ERROR_STOP`; returns stdout in unaligned, tuples-only form
    /// (`-A -t`), one row per line, columns separated by `|`.
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        let mut cmd = std::process::Command::new(crate::pg_bin("psql")?);
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string()])
            .args(["-U", Self::SUPERUSER, "-d", "postgres"])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]);
        let out = check(run(cmd, Some(sql.as_bytes()), SERVER_CMD_TIMEOUT)?, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `pg_ctl stop -m <mode> -w`.
    pub fn stop(&mut self, mode: StopMode) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-m", mode.as_arg(), "-w", "-t", "60"])?;
        Ok(())
    }

    /// Start again on the same data dir and port (after [`Self::stop`]).
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.start_server()
    }

    /// Postmaster pid, from the first line of `postmaster.pid`.
    pub fn postmaster_pid(&self) -> anyhow::Result<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .context("reading postmaster.pid (server not running?)")?;
        let first = text
            .lines()
            .next()
            .ok_or_else(|| anyhow!("empty postmaster.pid"))?;
        Ok(first.trim().parse()?)
    }

    /// Run `pg_ctl <args> -D <data>`, failing on a non-zero exit.
    pub(crate) fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut cmd = server_command("pg_ctl", self.dir.path())?;
        cmd.args(args).arg("-D").arg(self.data_dir());
        check(
            run(cmd, None, SERVER_CMD_TIMEOUT)?,
            &format!("pg_ctl {}", args.join(" ")),
        )?;
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if !self.data_dir().join("postmaster.pid").exists() {
            return;
        }
        if self.stop(StopMode::Immediate).is_ok() {
            return;
        }
        // pg_ctl could not stop it; only kill if it really still runs, so
        // a stale pid file never makes us kill an unrelated process.
        if self.pg_ctl(&["status"]).is_ok() {
            if let Ok(pid) = self.postmaster_pid() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// Ask the kernel for a free port; it is released again right away, so a
/// parallel test may still take it (start retries on a clash).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((PgCluster::HOST, 0))?
        .local_addr()?
        .port())
}
