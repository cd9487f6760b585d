//! Streaming-replication standbys and promotion.

use std::time::Duration;

use crate::cluster::PgCluster;
use crate::process::{check, chown_for_server, run, server_command};

impl PgCluster {
    /// A streaming standby of `self`: `pg_basebackup -R -X stream` into a new
    /// temp dir, started on a new port. It has the same options, superuser
    /// and password as the primary; `primary_conninfo` points at the
    /// primary over TCP with the superuser's password.
    pub async fn start_standby(&self) -> anyhow::Result<PgCluster> {
        let opts = self.opts.clone();
        let conninfo = self.connstr(Self::SUPERUSER, Self::SUPERUSER_PASSWORD, "postgres");
        tokio::task::spawn_blocking(move || {
            let mut standby = PgCluster::new_shell(opts)?;
            chown_for_server(standby.temp_root())?;
            let mut cmd = server_command("pg_basebackup", standby.temp_root())?;
            cmd.arg("-D")
                .arg(standby.data_dir())
                .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
                // The password in -d ends up in primary_conninfo, which is
                // what lets the standby authenticate to the primary.
                .args(["-d", &conninfo]);
            check(run(cmd, None, Duration::from_secs(120))?, "pg_basebackup")?;
            standby.start_on_fresh_port()?;
            Ok(standby)
        })
        .await?
    }

    /// `pg_ctl promote -w`: end recovery and become a primary.
    pub fn promote(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["promote", "-w", "-t", "60"])
    }
}
