//! [`Credentials`]: one user's current [`Versions`], swapped on rotation, and the server login
//! loop that tries every version and fetches the secret again when the database rejects them all.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use config::{CredentialSource, SecretSource, UserConfig};
use tokio::time::Instant;

use super::fetch::fetch;
use super::{LoginAs, SecretStores, Versions};
use crate::upstream::UpstreamError;

/// After a fetch, others that find every password rejected wait this long before fetching
/// again: a rotation half done must not turn into a fetch per connection attempt.
const REFETCH_GAP: Duration = Duration::from_millis(250);

/// One configured user's credentials.
pub struct Credentials {
    user_name: String,
    /// `None` for an inline password, which never changes.
    source: Option<SecretSource>,
    stores: Arc<SecretStores>,
    // std RwLock: held only to clone the Arc in or out, never across an await.
    versions: RwLock<Arc<Versions>>,
    /// Bumped on every swap, so a waiter can tell that something new arrived.
    generation: AtomicU64,
    /// One fetch at a time per user; holds when the last one started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

impl Credentials {
    /// The user's credentials as configured: the inline password, or the secret fetched now.
    /// The error names the user and the source.
    pub async fn load(
        user: &UserConfig,
        stores: &Arc<SecretStores>,
    ) -> anyhow::Result<Credentials> {
        let (source, versions) = match &user.credentials {
            CredentialSource::Inline(password) => (None, Versions::inline(&user.name, password)),
            CredentialSource::Store(source) => {
                let value = fetch(source, stores).await.map_err(|problem| {
                    anyhow::anyhow!("user \"{}\": secret {source}: {problem}", user.name)
                })?;
                (Some(source.clone()), Versions::new(&user.name, &value))
            }
        };
        Ok(Credentials {
            user_name: user.name.clone(),
            source,
            stores: stores.clone(),
            versions: RwLock::new(Arc::new(versions)),
            generation: AtomicU64::new(0),
            fetching: tokio::sync::Mutex::new(None),
        })
    }

    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    pub fn source(&self) -> Option<&SecretSource> {
        self.source.as_ref()
    }

    /// The versions as of now; a rotation after this call does not change them.
    pub fn versions(&self) -> Arc<Versions> {
        self.versions
            .read()
            .expect("versions lock is never poisoned: no panics while held")
            .clone()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Fetches the secret and swaps in what changed. `Ok(true)` when something did. On error
    /// the old versions stay.
    pub async fn refresh(&self) -> Result<bool, String> {
        let mut last = self.fetching.lock().await;
        *last = Some(Instant::now());
        self.fetch_and_swap().await
    }

    async fn fetch_and_swap(&self) -> Result<bool, String> {
        let Some(source) = &self.source else {
            return Ok(false);
        };
        let value = fetch(source, &self.stores).await?;
        if self.versions().holds(&self.user_name, &value) {
            return Ok(false);
        }
        let fresh = Arc::new(Versions::new(&self.user_name, &value));
        tracing::info!(
            user = %self.user_name,
            source = %source,
            versions = %fresh.describe(),
            "credentials rotated: new server connections use the new secret"
        );
        *self
            .versions
            .write()
            .expect("versions lock is never poisoned: no panics while held") = fresh;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Logs in with each version until one is accepted. When the database rejects them all
    /// (28P01), the secret is fetched again at once, and the login retried at once if it
    /// changed, else every [`REFETCH_GAP`] for up to `patience`: during a rotation the database
    /// and the secret store change a moment apart, in either order.
    pub async fn log_in<T, F, Fut>(
        &self,
        patience: Duration,
        mut attempt: F,
    ) -> Result<T, UpstreamError>
    where
        F: FnMut(LoginAs) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let deadline = Instant::now() + patience;
        loop {
            let seen = self.generation();
            let mut rejected = None;
            for login in self.versions().logins() {
                let label = login.label();
                match attempt(login.clone()).await {
                    Ok(conn) => {
                        tracing::debug!(user = %self.user_name, version = label, "server login accepted");
                        login.worked();
                        return Ok(conn);
                    }
                    Err(e) if e.is_password_rejected() => {
                        tracing::debug!(user = %self.user_name, version = label, "the database rejected this password version");
                        rejected = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            let rejected = rejected.expect("every secret has a current version, tried above");
            // Fetch at once (shared with concurrent logins); retry at once if it changed.
            if self.source.is_some() && self.refetch_unless_newer(seen).await {
                continue;
            }
            if self.source.is_none() || Instant::now() + REFETCH_GAP >= deadline {
                tracing::warn!(user = %self.user_name, "the database rejected every known password of this user");
                return Err(rejected);
            }
            tokio::time::sleep(REFETCH_GAP).await;
        }
    }

    /// Fetches the secret unless versions newer than `seen` are already in, or a fetch has
    /// just run. True when newer versions are in.
    async fn refetch_unless_newer(&self, seen: u64) -> bool {
        let mut last = self.fetching.lock().await;
        if self.generation() != seen {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_GAP) {
            return false;
        }
        *last = Some(Instant::now());
        match self.fetch_and_swap().await {
            Ok(changed) => changed,
            Err(problem) => {
                let source = self
                    .source
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                tracing::warn!(user = %self.user_name, %source, %problem, "could not fetch the secret; keeping the previous credentials");
                false
            }
        }
    }
}
