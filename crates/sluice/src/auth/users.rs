//! The configured users: their names, how clients authenticate, and their credentials.

use std::collections::HashMap;
use std::sync::Arc;

use config::{ClientAuth, Config, TokenAuth, UserConfig};

use crate::credentials::{Credentials, SecretStores};

/// One configured user, ready for logins in both directions.
pub struct UserEntry {
    pub name: Arc<str>,
    pub client_auth: ClientAuth,
    pub token_auth: TokenAuth,
    /// Empty means any database.
    pub databases: Vec<String>,
    /// Looked up at every use, never copied: a rotation reaches sessions already logged in.
    pub credentials: Arc<Credentials>,
}

impl UserEntry {
    async fn load(user: &UserConfig, stores: &Arc<SecretStores>) -> anyhow::Result<Self> {
        let credentials = Credentials::load(user, stores).await?;
        Ok(UserEntry {
            name: user.name.as_str().into(),
            client_auth: user.client_auth,
            token_auth: user.token_auth,
            databases: user.databases.clone(),
            credentials: Arc::new(credentials),
        })
    }

    pub fn may_use_database(&self, database: &str) -> bool {
        self.databases.is_empty() || self.databases.iter().any(|d| d == database)
    }
}

pub struct UserDirectory {
    users: HashMap<String, Arc<UserEntry>>,
    /// How their secrets are fetched; every user's credentials share it.
    stores: Arc<SecretStores>,
}

impl UserDirectory {
    /// Every user with its credentials; fetching a secret that fails stops here, naming the
    /// user and the source. Derives the SCRAM verifiers (slow on purpose: PBKDF2). `running`
    /// is the directory a reload replaces: its AWS client is kept while the AWS settings stay.
    pub async fn load(config: &Config, running: Option<&UserDirectory>) -> anyhow::Result<Self> {
        let stores = Arc::new(match running {
            Some(running) => running.stores.reconfigured(&config.secrets),
            None => SecretStores::new(&config.secrets),
        });
        let mut users = HashMap::with_capacity(config.users.len());
        for user in &config.users {
            users.insert(
                user.name.clone(),
                Arc::new(UserEntry::load(user, &stores).await?),
            );
        }
        Ok(UserDirectory { users, stores })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<UserEntry>> {
        self.users.get(name)
    }

    /// The method a client logging in as `name` is asked for: unknown users get the SCRAM
    /// exchange of the fake verifier.
    pub fn method_for(&self, name: &str) -> ClientAuth {
        self.get(name)
            .map_or(ClientAuth::ScramSha256, |u| u.client_auth)
    }

    /// Every user's credentials, for the refresh task.
    pub fn all_credentials(&self) -> Vec<Arc<Credentials>> {
        self.users.values().map(|u| u.credentials.clone()).collect()
    }
}
