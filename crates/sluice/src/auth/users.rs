//! The configured users, with what is derived from their passwords once at load time.

use std::collections::HashMap;
use std::sync::Arc;

use config::{ClientAuth, Config, TokenAuth, UserConfig};
use pgwire::auth::{ScramKeyCache, ScramSecret};

use crate::upstream::Credentials;

/// One configured user, ready for logins in both directions.
pub struct UserEntry {
    pub name: Arc<str>,
    pub client_auth: ClientAuth,
    pub token_auth: TokenAuth,
    /// Derived once here: PBKDF2 per login would cost milliseconds of CPU each.
    pub scram: ScramSecret,
    /// Empty means any database.
    pub databases: Vec<String>,
    pub credentials: Credentials,
}

impl UserEntry {
    fn new(user: &UserConfig) -> Self {
        UserEntry {
            name: user.name.as_str().into(),
            client_auth: user.client_auth,
            token_auth: user.token_auth,
            scram: ScramSecret::from_password(user.password.expose()),
            databases: user.databases.clone(),
            credentials: Credentials {
                user: user.name.clone(),
                password: user.password.clone(),
                key_cache: ScramKeyCache::new(user.password.expose()),
            },
        }
    }

    pub fn may_use_database(&self, database: &str) -> bool {
        self.databases.is_empty() || self.databases.iter().any(|d| d == database)
    }
}

pub struct UserDirectory {
    users: HashMap<String, Arc<UserEntry>>,
}

impl UserDirectory {
    pub fn from_config(config: &Config) -> Self {
        let users = config
            .users
            .iter()
            .map(|u| (u.name.clone(), Arc::new(UserEntry::new(u))))
            .collect();
        UserDirectory { users }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<UserEntry>> {
        self.users.get(name)
    }
}
