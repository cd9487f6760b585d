//! Hot reload (SIGHUP, the admin console's RELOAD): the configuration file is read and
//! validated again, the users' secrets fetched; only if all of that succeeds does the new
//! configuration take effect, without dropping anyone. A file that fails keeps the running
//! configuration, and the reason is logged.
//!
//! What reloads: users (passwords, secrets, authentication methods, databases, tokens
//! allowed), the hosts and how they are probed, TLS on both sides, token issuers and keys,
//! pool limits, timeouts, `init_query`, access rules, admin console users, endpoints added or
//! removed, the client limit, and the log settings. Keys bound at startup (the main listener,
//! ...) keep their running values until a restart; a reload that changes them says which.

use anyhow::{anyhow, bail, Context};
use config::Config;

use std::sync::Arc;

use crate::auth::UserDirectory;
use crate::events::EventKind;
use crate::proxy::Shared;
use crate::tls::{ClientTls, ServerTls};
use crate::tokens::TokenVerifier;

/// What a successful reload could not apply.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Keys changed in the file that keep their running value until a restart.
    pub restart_needed: Vec<String>,
}

/// Reads the file Sluice was started with and applies it.
pub async fn reload_file(shared: &Arc<Shared>) -> anyhow::Result<Reloaded> {
    // Held from reading the file on, so the last file read is the one that applies.
    let _one_at_a_time = shared.reloading.lock().await;
    let path = shared
        .config_path()
        .context("no configuration file to reload: Sluice was not started with --config")?;
    let config = Config::load(&path)
        .map_err(|e| anyhow!("{}: invalid configuration:\n{e}", path.display()))?;
    apply(shared, config).await
}

/// Applies `new` as far as it can change while running.
pub async fn reload(shared: &Arc<Shared>, new: Config) -> anyhow::Result<Reloaded> {
    let _one_at_a_time = shared.reloading.lock().await;
    apply(shared, new).await
}

/// [`reload`], with the reload lock held by the caller.
async fn apply(shared: &Arc<Shared>, new: Config) -> anyhow::Result<Reloaded> {
    let running = shared.config();
    let monitor_user = &running.users[0].name;
    if new.user(monitor_user).is_none() {
        bail!(
            "users: {monitor_user:?} is the user the failover monitor logs in as; keep it in the \
             file, or restart Sluice to change it"
        );
    }
    crate::telemetry::check_filter(&new.log.filter)?;
    let users = UserDirectory::load(&new, Some(&shared.users.load())).await?;
    let (mut config, kept) = keep_startup_keys(&running, new);
    let mut restart_needed: Vec<String> = kept.into_iter().map(str::to_owned).collect();
    let tls = Tls::load(&running, &config)?;
    let tokens = TokenVerifier::reload(&config, Some(&shared.tokens.load()))
        .await
        .context("token authentication: cannot load the keys")?;
    // Last of the checks: it binds the new endpoints' addresses.
    let endpoints = shared
        .endpoints
        .prepare(&config.endpoints, config.proxy.so_reuseport)?;
    restart_needed.extend(
        endpoints
            .kept
            .iter()
            .map(|name| format!("endpoints[{name:?}]")),
    );
    config.endpoints = endpoints.configs.clone();
    let closed = shared.target.apply_settings(config.database.clone());
    shared.endpoints.apply(shared, endpoints);
    tls.apply(shared);
    shared.tokens.store(Arc::new(tokens));
    // Checked above; a filter that still fails to apply leaves the old one, which is harmless.
    if let Err(e) = crate::telemetry::set_filter(&config.log.filter) {
        tracing::warn!(error = %e, "log.filter not changed");
    }
    shared.replace_config(config, users);
    if !closed.is_empty() {
        tokio::spawn(async move {
            for conn in closed {
                conn.terminate().await;
            }
        });
    }
    Ok(Reloaded { restart_needed })
}

/// TLS on both sides, loaded from the new configuration before anything is applied, so a
/// missing certificate or CA file refuses the whole reload.
struct Tls {
    /// `Some` when `[proxy.tls]` changed: the new client-facing TLS (`None` inside: turned off).
    client: Option<Option<Arc<ClientTls>>>,
    /// Always loaded again, so a CA bundle rotated in place is read.
    server: Arc<ServerTls>,
    /// tls_mode, tls_ca_file or server_auth changed: pooled connections were opened under the
    /// old rules and are replaced.
    server_rules_changed: bool,
}

impl Tls {
    fn load(running: &Config, new: &Config) -> anyhow::Result<Tls> {
        let client = match &new.proxy.tls {
            // The same files: read again, as the certificate is rotated in place. A pair that
            // does not load is logged and the one in use stays; the rest reloads.
            _ if new.proxy.tls == running.proxy.tls => None,
            Some(tls) => Some(Some(Arc::new(
                ClientTls::new(tls).context("proxy.tls: cannot load the certificate")?,
            ))),
            None => Some(None),
        };
        let (old, db) = (&running.database, &new.database);
        Ok(Tls {
            client,
            server: Arc::new(ServerTls::new(db)?),
            server_rules_changed: (old.tls_mode, &old.tls_ca_file, old.server_auth)
                != (db.tls_mode, &db.tls_ca_file, db.server_auth),
        })
    }

    fn apply(self, shared: &Shared) {
        if self.client.is_none() {
            if let Some(tls) = &*shared.client_tls.load() {
                tls.store.reload_and_log();
            }
        }
        if let Some(client) = self.client {
            tracing::info!(
                enabled = client.is_some(),
                "proxy.tls changed: new client connections use the new settings"
            );
            shared.client_tls.store(client);
        }
        shared.target.tls.store(self.server);
        if self.server_rules_changed {
            let idle = shared.target.retire_all();
            tracing::info!(
                idle_closed = idle.len(),
                "server TLS or server_auth changed: pooled server connections are replaced \
                 (idle ones now, lent ones when given back)"
            );
            tokio::spawn(async move {
                for conn in idle {
                    conn.terminate().await;
                }
            });
        }
    }
}

/// Logs the outcome of a reload and records it for the status page, as SIGHUP and RELOAD both
/// report it.
pub fn report(shared: &Shared, outcome: &anyhow::Result<Reloaded>) {
    log_outcome(outcome);
    let (kind, detail) = match outcome {
        Ok(r) if r.restart_needed.is_empty() => (EventKind::ConfigReloaded, String::new()),
        Ok(r) => (
            EventKind::ConfigReloaded,
            format!("; kept until a restart: {}", r.restart_needed.join(", ")),
        ),
        Err(e) => (EventKind::ConfigRefused, format!(": {e:#}")),
    };
    let what = match kind {
        EventKind::ConfigReloaded => "configuration reloaded",
        _ => "configuration not reloaded",
    };
    shared.events.record(kind, format!("{what}{detail}"));
}

fn log_outcome(outcome: &anyhow::Result<Reloaded>) {
    match outcome {
        Ok(reloaded) if reloaded.restart_needed.is_empty() => {
            tracing::info!("configuration reloaded")
        }
        Ok(reloaded) => tracing::warn!(
            keys = ?reloaded.restart_needed,
            "configuration reloaded; these keys changed but keep their running values until a restart"
        ),
        Err(e) => tracing::error!(
            error = format!("{e:#}"),
            "configuration not reloaded; the running configuration stays"
        ),
    }
}

/// Defines [`STARTUP_KEYS`] and `keep_startup_keys` from one list, so the two cannot drift.
macro_rules! startup_keys {
    ($($name:literal => $($field:ident).+),* $(,)?) => {
        /// Keys bound at startup: a reload keeps their running values (`SHOW CONFIG` shows
        /// them as not changeable).
        pub const STARTUP_KEYS: &[&str] = &[$($name),*];

        /// `new` with every key that is bound at startup set back to its running value, and
        /// the names of those that differed. Compared by their Debug form: none of these keys
        /// holds a secret.
        fn keep_startup_keys(running: &Config, mut new: Config) -> (Config, Vec<&'static str>) {
            let mut kept = Vec::new();
            $(
                if format!("{:?}", running.$($field).+) != format!("{:?}", new.$($field).+) {
                    kept.push($name);
                    new.$($field).+ = running.$($field).+.clone();
                }
            )*
            (new, kept)
        }
    };
}

startup_keys!(
    "proxy.listen" => proxy.listen,
    "proxy.pool_mode" => proxy.pool_mode,
    "proxy.worker_threads" => proxy.worker_threads,
    "proxy.max_prepared_statements" => proxy.max_prepared_statements,
    "proxy.so_reuseport" => proxy.so_reuseport,
    "admin.listen" => admin.listen,
    "log.format" => log.format,
);

/// Whether a reload changes `key` (a `SHOW CONFIG` path such as `proxy.listen`,
/// `endpoints[0].listen` or `secrets.refresh_interval`).
pub fn changeable(key: &str) -> bool {
    !STARTUP_KEYS.iter().any(|bound| {
        key.strip_prefix(bound)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[proxy]\nlisten = \"127.0.0.1:6432\"\n[database]\nhosts = [\"10.0.0.1\"]\n\
                        [[users]]\nname = \"a\"\npassword = \"b\"\n";

    #[test]
    fn startup_keys_keep_their_running_values_and_the_rest_changes() {
        let running = Config::from_toml_str(BASE).unwrap();
        let changed = BASE
            .replace("127.0.0.1:6432", "127.0.0.1:7000")
            .replace("10.0.0.1", "10.0.0.2")
            .replace("7000\"\n", "7000\"\npool_mode = \"session\"\n")
            .replace(
                "password = \"b\"",
                "password = \"c\"\n[log]\nlog_connections = false",
            );
        let new = Config::from_toml_str(&format!(
            "{changed}\n[[users]]\nname = \"d\"\npassword = \"e\"\n"
        ))
        .unwrap();
        let (applied, kept) = keep_startup_keys(&running, new);
        assert_eq!(kept, ["proxy.listen", "proxy.pool_mode"]);
        assert_eq!(applied.proxy.listen, running.proxy.listen);
        assert_ne!(applied.database.hosts, running.database.hosts);
        assert_eq!(applied.users.len(), 2);
        assert!(!applied.log.log_connections);
    }

    #[test]
    fn changeable_follows_the_startup_keys() {
        assert!(!changeable("proxy.listen"));
        assert!(!changeable("admin.listen"));
        assert!(!changeable("log.format"));
        assert!(
            changeable("proxy.listen_backlog"),
            "a prefix of a word is not a match"
        );
        assert!(changeable("database.hosts"));
        assert!(changeable("users[0].password"));
    }
}
