//! [`Versions`]: one fetch of a user's secret, with everything derived from it once (SCRAM
//! verifiers, key caches), so logins in both directions cost no PBKDF2.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use config::Secret;
use pgwire::auth::{md5, ScramKeyCache, ScramSecret, ScramServer};

use super::value::Stage;
use super::SecretValue;

/// One password version: what a server login needs.
struct Version {
    stage: Stage,
    password: Secret<String>,
    /// Saves the PBKDF2 rounds of SCRAM on every new server connection after the first.
    key_cache: ScramKeyCache,
}

/// The versions of one secret as last fetched. Immutable: a rotation swaps in a new one, and
/// whoever holds the old one finishes with it.
pub struct Versions {
    /// The role Sluice logs in to PostgreSQL as.
    login_user: String,
    /// In login order: current, then pending, then previous.
    versions: Vec<Version>,
    /// Clients are checked against the current verifier and, while a rotation is pending, the
    /// pending one derived with the same salt (one SCRAM exchange publishes one salt).
    client_verifier: ScramSecret,
    pending_verifier: Option<ScramSecret>,
    /// The version the last successful server login used: tried first next time, so a
    /// half-finished rotation costs one rejected login, not one per connection.
    preferred: AtomicUsize,
}

/// One server login attempt: the role and one password version.
#[derive(Clone)]
pub struct LoginAs {
    versions: Arc<Versions>,
    index: usize,
}

impl LoginAs {
    pub fn user(&self) -> &str {
        &self.versions.login_user
    }

    pub fn password(&self) -> &str {
        self.versions.versions[self.index].password.expose()
    }

    pub fn key_cache(&self) -> &ScramKeyCache {
        &self.versions.versions[self.index].key_cache
    }

    /// `AWSCURRENT`, `AWSPENDING` or `AWSPREVIOUS`, for logs.
    pub fn label(&self) -> &'static str {
        self.versions.versions[self.index].stage.as_str()
    }

    /// Remember that this version worked.
    pub fn worked(&self) {
        self.versions.preferred.store(self.index, Ordering::Relaxed);
    }
}

impl Versions {
    /// Derives everything for `value`; `user_name` is the role when the secret names none.
    pub fn new(user_name: &str, value: &SecretValue) -> Versions {
        let versions = value
            .stages()
            .into_iter()
            .map(|(stage, password)| Version {
                stage,
                key_cache: ScramKeyCache::new(password.expose()),
                password: password.clone(),
            })
            .collect();
        let client_verifier = ScramSecret::from_password(value.password.expose());
        let pending_verifier = value
            .pending_password
            .as_ref()
            .map(|p| ScramSecret::from_password_like(p.expose(), &client_verifier));
        Versions {
            login_user: value
                .username
                .clone()
                .unwrap_or_else(|| user_name.to_owned()),
            versions,
            client_verifier,
            pending_verifier,
            preferred: AtomicUsize::new(0),
        }
    }

    /// An inline password: one version, no rotation.
    pub fn inline(user_name: &str, password: &Secret<String>) -> Versions {
        Self::new(
            user_name,
            &SecretValue {
                username: None,
                password: password.clone(),
                previous_password: None,
                pending_password: None,
            },
        )
    }

    /// Whether `value` holds exactly these versions (a refresh that changed nothing).
    pub fn holds(&self, user_name: &str, value: &SecretValue) -> bool {
        let ours = self.versions.iter().map(|v| (v.stage, v.password.expose()));
        let theirs = value
            .stages()
            .into_iter()
            .map(|(stage, p)| (stage, p.expose()));
        self.login_user == value.username.as_deref().unwrap_or(user_name) && ours.eq(theirs)
    }

    /// Server login attempts, the version that worked last time first.
    pub fn logins(self: &Arc<Self>) -> Vec<LoginAs> {
        let preferred = self.preferred.load(Ordering::Relaxed);
        let order = std::iter::once(preferred)
            .chain((0..self.versions.len()).filter(|&i| i != preferred))
            .filter(|&i| i < self.versions.len());
        order
            .map(|index| LoginAs {
                versions: self.clone(),
                index,
            })
            .collect()
    }

    /// A SCRAM exchange that the current password passes, and the pending one while there is
    /// one.
    pub fn scram_server(&self) -> ScramServer {
        ScramServer::with_alternatives(
            self.client_verifier.clone(),
            self.pending_verifier.iter().cloned().collect(),
        )
    }

    /// Whether an md5 response is the current password's, or the pending one's. Both are
    /// always computed, so the time taken does not say which.
    pub fn md5_matches(&self, user: &str, salt: [u8; 4], response: &[u8]) -> bool {
        let client_passwords = self
            .versions
            .iter()
            .filter(|v| v.stage.accepted_from_clients());
        client_passwords.fold(false, |ok, v| {
            md5::md5_verify(user, v.password.expose(), salt, response) | ok
        })
    }

    /// A password sent in the clear (over TLS, by a `token_auth = "optional"` user) against
    /// every version clients may use, in constant time and without stopping at a match.
    pub fn cleartext_matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let client_passwords = self
            .versions
            .iter()
            .filter(|v| v.stage.accepted_from_clients());
        client_passwords.fold(false, |ok, v| {
            bool::from(presented.ct_eq(v.password.expose().as_bytes())) | ok
        })
    }

    /// Which versions there are, for logs: `AWSCURRENT, AWSPENDING`.
    pub fn describe(&self) -> String {
        let labels: Vec<&str> = self.versions.iter().map(|v| v.stage.as_str()).collect();
        labels.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: &str) -> SecretValue {
        SecretValue::from_json(json).unwrap()
    }

    #[test]
    fn login_order_follows_what_worked() {
        let v = Arc::new(Versions::new(
            "app",
            &value(r#"{"password":"cur","pending_password":"new","previous_password":"old"}"#),
        ));
        let order = |v: &Arc<Versions>| {
            v.logins()
                .iter()
                .map(|l| l.password().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&v), ["cur", "new", "old"]);
        v.logins()[2].worked();
        assert_eq!(order(&v), ["old", "cur", "new"]);
        assert_eq!(v.logins()[0].user(), "app");
        assert_eq!(v.describe(), "AWSCURRENT, AWSPENDING, AWSPREVIOUS");
    }

    #[test]
    fn clients_may_use_current_or_pending_but_not_previous() {
        let v = Versions::new(
            "app",
            &value(r#"{"password":"cur","pending_password":"new","previous_password":"old"}"#),
        );
        let salt = [1, 2, 3, 4];
        let md5_of = |pw: &str| md5::md5_password_message("app", pw, salt);
        assert!(v.md5_matches("app", salt, md5_of("cur").as_bytes()));
        assert!(v.md5_matches("app", salt, md5_of("new").as_bytes()));
        assert!(!v.md5_matches("app", salt, md5_of("old").as_bytes()));
        for (pw, ok) in [("cur", true), ("new", true), ("old", false)] {
            let mut client = pgwire::auth::ScramClient::new(pw);
            let mut server = v.scram_server();
            let first = server
                .client_first("SCRAM-SHA-256", &client.client_first())
                .unwrap();
            let last = client.server_first(&first).unwrap();
            assert_eq!(server.client_final(&last).is_ok(), ok, "{pw}");
        }
    }

    #[test]
    fn holds_compares_every_version_and_the_role() {
        let v = Versions::new("app", &value(r#"{"password":"cur"}"#));
        assert!(v.holds("app", &value(r#"{"password":"cur"}"#)));
        assert!(v.holds("app", &value(r#"{"username":"app","password":"cur"}"#)));
        assert!(!v.holds("app", &value(r#"{"username":"other","password":"cur"}"#)));
        assert!(!v.holds(
            "app",
            &value(r#"{"password":"cur","pending_password":"new"}"#)
        ));
        assert!(!v.holds("app", &value(r#"{"password":"new"}"#)));
    }
}
