//! Typed configuration for Sluice.
//!
//! The file is TOML with sections `[proxy]`, `[database]`, `[[users]]`, `[log]`, `[admin]`,
//! `[secrets]`, `[[access]]`, `[[endpoints]]`, and for token authentication `[tokens]` and
//! `[[token_issuers]]`; see `docs/configuration.md` for every key.
//! Loading is two steps: the toml crate parses the file into loose serde
//! types (rejecting bad syntax and unknown keys), then validation turns
//! those into the types here, collecting every problem with its key path so
//! that one `sluice check` run reports them all.

mod access;
mod bytes;
mod duration;
mod error;
mod host;
mod model;
mod raw;
mod secret;
mod secret_source;
mod tls;
mod tokens;
mod tokens_validate;
mod toml_error;
mod validate;

use std::path::Path;

pub use access::{decide, AccessAction, AccessRequest, AccessRule, AddressMatch};
pub use error::{ConfigError, Problem};
pub use host::{HostPort, DEFAULT_PG_PORT};
pub use model::{
    AdminConfig, ClientAuth, Config, CredentialSource, DatabaseConfig, EndpointConfig,
    EndpointRole, LogConfig, LogFormat, PoolMode, ProxyConfig, SecretsConfig, UserConfig,
    PIN_REASONS,
};
pub use secret::Secret;
pub use secret_source::SecretSource;
pub use tls::{ProxyTlsConfig, ServerAuth, ServerTlsMode, TlsVersion};
pub use tokens::{JwksSource, TokenAuth, TokenIssuerConfig, TokensConfig, SELF_ISSUER, WILDCARD};
pub use validate::password_value;

impl Config {
    /// Parses and validates a configuration from TOML text.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        // Syntax first, on its own: a syntax error makes every later message
        // meaningless, and this way it is reported by line and column.
        if let Err(e) = s.parse::<toml::Table>() {
            return Err(toml_error::syntax(&e, s).into());
        }
        let raw: raw::RawConfig = toml::from_str(s).map_err(|e| toml_error::shape(&e, s))?;
        validate::validate(raw)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::new(
                path.display().to_string(),
                format!("cannot read config file: {e}"),
            )
        })?;
        Self::from_toml_str(&text)
    }
}

#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tokens_tests;
