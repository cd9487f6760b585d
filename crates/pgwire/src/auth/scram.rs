//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, and SCRAM-SHA-256-PLUS with
//! the `tls-server-end-point` channel binding (RFC 5929) over TLS: the client proves it sees
//! the same server certificate the server sent, so a man in the middle holding another
//! certificate cannot relay the exchange.
//!
//! Passwords are used as their raw UTF-8 bytes, not SASLprep-normalised. PostgreSQL itself
//! falls back to raw bytes whenever SASLprep fails, and SASLprep leaves printable ASCII
//! unchanged, so this only differs from PostgreSQL for passwords with non-ASCII characters
//! that normalisation would rewrite (for example non-ASCII spaces or compatibility forms).

use std::collections::HashMap;
use std::fmt;
use std::mem;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SASL mechanism name PostgreSQL advertises in AuthenticationSASL.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// The mechanism with channel binding, offered only over TLS.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";
/// The one channel-binding type PostgreSQL implements.
pub const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// PostgreSQL's default `scram_iterations`.
const DEFAULT_ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 18;
/// A hostile or misconfigured server could otherwise make every login burn seconds of CPU.
const MAX_ITERATIONS: u32 = 1_000_000;
/// Without channel binding the client sends this GS2 header...
const GS2_HEADER: &str = "n,,";
/// ...and echoes it base64-encoded in client-final.
#[cfg(test)]
const GS2_HEADER_B64: &str = "biws";
/// Salts come from the server; bound the cache even if it rotates them.
const MAX_CACHED_KEYS: usize = 16;
/// Keeps a client-chosen mechanism name from bloating logs.
const MAX_MECHANISM_IN_ERROR: usize = 64;
const SECRET_PREFIX: &str = "SCRAM-SHA-256$";

/// Why a SCRAM exchange or secret was rejected. Messages never contain passwords, keys or
/// proofs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The client picked a SASL mechanism we did not offer.
    #[error("unsupported SASL mechanism {0:?}")]
    UnsupportedMechanism(String),
    /// A message or stored secret does not follow the SCRAM grammar.
    #[error("malformed SCRAM data: {0}")]
    Malformed(&'static str),
    /// The nonce does not extend (server-first) or repeat (client-final) the agreed one.
    #[error("SCRAM nonce mismatch")]
    NonceMismatch,
    /// The client demands channel binding (`p=` GS2 flag) we did not offer: not over TLS,
    /// with the plain mechanism, or of a type other than tls-server-end-point.
    #[error("client requires SCRAM channel binding, which is not available here")]
    ChannelBindingNotSupported,
    /// The client says it could bind (`y`) but thinks we cannot, while we offered
    /// SCRAM-SHA-256-PLUS: someone removed it from the list on the way (RFC 5802 §6).
    #[error("SCRAM channel binding downgrade: the client did not see SCRAM-SHA-256-PLUS offered")]
    ChannelBindingDowngrade,
    /// client-final's `c=` does not echo the GS2 header of client-first.
    #[error("SCRAM channel-binding data does not match the GS2 header")]
    ChannelBindingMismatch,
    /// The client's proof is wrong: wrong password, or an unknown user's mock secret.
    #[error("SCRAM client proof is invalid")]
    InvalidProof,
    /// The server could not prove it knows the verifier.
    #[error("SCRAM server signature is invalid")]
    InvalidServerSignature,
    /// The server ended the exchange with `e=<message>`.
    #[error("server rejected SCRAM authentication: {0}")]
    ServerError(String),
    /// A step was called before the previous one succeeded, or after the exchange ended.
    #[error("SCRAM message out of order")]
    OutOfOrder,
}

/// Server-side verifier, as stored in pg_authid: never the password itself.
#[derive(Clone)]
pub struct ScramSecret {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl ScramSecret {
    /// Derive with a fresh random 16-byte salt and 4096 iterations (PBKDF2 is slow: the proxy
    /// calls this once per configured user at config load, never per login).
    pub fn from_password(password: &str) -> ScramSecret {
        let mut salt = [0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        Self::from_password_with(password, &salt, DEFAULT_ITERATIONS)
    }

    /// Derive with a caller-chosen salt and iteration count.
    pub fn from_password_with(password: &str, salt: &[u8], iterations: u32) -> ScramSecret {
        let keys = Keys::from_salted(&salted_password(password.as_bytes(), salt, iterations));
        ScramSecret {
            iterations,
            salt: salt.to_vec(),
            stored_key: keys.stored_key,
            server_key: keys.server_key,
        }
    }

    /// Derive for `password` with `other`'s salt and iteration count, so one SCRAM exchange
    /// (which publishes a single salt) can be checked against both (see
    /// [`ScramServer::with_alternatives`]).
    pub fn from_password_like(password: &str, other: &ScramSecret) -> ScramSecret {
        Self::from_password_with(password, &other.salt, other.iterations)
    }

    /// Parse PostgreSQL's `SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>`.
    pub fn parse(s: &str) -> Result<ScramSecret, ScramError> {
        let malformed =
            ScramError::Malformed("secret is not SCRAM-SHA-256$<iter>:<salt>$<key>:<key>");
        let rest = s.strip_prefix(SECRET_PREFIX).ok_or(malformed.clone())?;
        let (params, keys) = rest.split_once('$').ok_or(malformed.clone())?;
        let (iterations, salt) = params.split_once(':').ok_or(malformed.clone())?;
        let (stored_key, server_key) = keys.split_once(':').ok_or(malformed)?;
        // No MAX_ITERATIONS cap here: the stored count only costs the client CPU, and newer
        // PostgreSQL versions allow raising it well past our client-side limit.
        let iterations =
            parse_count(iterations)
                .filter(|&n| n >= 1)
                .ok_or(ScramError::Malformed(
                    "secret iteration count is not a positive integer",
                ))?;
        Ok(ScramSecret {
            iterations,
            salt: decode_salt(salt)?,
            stored_key: decode_key(stored_key, "secret StoredKey is not 32 bytes of base64")?,
            server_key: decode_key(server_key, "secret ServerKey is not 32 bytes of base64")?,
        })
    }

    /// Format as PostgreSQL stores it in pg_authid, the inverse of [`ScramSecret::parse`].
    pub fn to_pg_string(&self) -> String {
        format!(
            "{SECRET_PREFIX}{}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }

    /// A deterministic fake verifier for an unknown user, derived from the user name and a
    /// per-process random key (HMAC), so that an unknown user gets the same exchange shape
    /// (same salt every time for the same name) as a known one and only fails at the final
    /// step.
    pub fn mock(user: &str, process_key: &[u8; 32]) -> ScramSecret {
        // Unlike PostgreSQL we need no "doomed" flag: a valid proof requires a SHA-256
        // preimage of a StoredKey nobody can compute without `process_key`. Distinct labels
        // keep the published salt from revealing anything about the keys.
        let derive = |label: &[u8]| hmac(process_key, &[label, user.as_bytes()].concat());
        ScramSecret {
            iterations: DEFAULT_ITERATIONS,
            salt: derive(b"sluice-scram-mock-salt\0")[..SALT_LEN].to_vec(),
            stored_key: derive(b"sluice-scram-mock-stored-key\0"),
            server_key: derive(b"sluice-scram-mock-server-key\0"),
        }
    }

    /// ClientKey is recovered from the proof and must hash to StoredKey.
    fn verify_proof(&self, auth_message: &str, proof: &[u8; 32]) -> Result<(), ScramError> {
        let client_signature = hmac(&self.stored_key, auth_message.as_bytes());
        let client_key = xor(proof, &client_signature);
        if bool::from(sha256(&client_key).ct_eq(&self.stored_key)) {
            Ok(())
        } else {
            Err(ScramError::InvalidProof)
        }
    }
}

impl fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramSecret")
            .field("iterations", &self.iterations)
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// One server-side SCRAM exchange (the proxy authenticating a client).
pub struct ScramServer {
    secret: ScramSecret,
    /// Other verifiers that also pass (a password being rotated in); same salt and iterations.
    alternatives: Vec<ScramSecret>,
    server_nonce: String,
    /// tls-server-end-point data of this connection's certificate; `Some` when
    /// SCRAM-SHA-256-PLUS was offered.
    channel_binding: Option<Vec<u8>>,
    state: ServerState,
}

enum ServerState {
    AwaitingClientFirst,
    AwaitingClientFinal(ServerExchange),
    /// Succeeded or failed: either way a SCRAM exchange is single-use.
    Finished,
}

/// What client-final is checked against and what the signatures cover.
struct ServerExchange {
    /// What client-final's `c=` must decode to: the GS2 header, plus the binding data when
    /// the client bound to the channel.
    cbind_input: Vec<u8>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    /// Start an exchange against `secret` (a real one, or [`ScramSecret::mock`]).
    pub fn new(secret: ScramSecret) -> ScramServer {
        Self::with_server_nonce(secret, random_nonce())
    }

    /// Start an exchange over TLS, where SCRAM-SHA-256-PLUS is offered too: `end_point` is the
    /// tls-server-end-point hash of the certificate this connection presented.
    pub fn with_channel_binding(secret: ScramSecret, end_point: Vec<u8>) -> ScramServer {
        Self::new(secret).bound_to(end_point)
    }

    /// The same exchange offered over TLS: SCRAM-SHA-256-PLUS too, bound to `end_point`.
    pub fn bound_to(mut self, end_point: Vec<u8>) -> ScramServer {
        self.channel_binding = Some(end_point);
        self
    }

    fn with_server_nonce(secret: ScramSecret, server_nonce: String) -> ScramServer {
        ScramServer {
            secret,
            alternatives: Vec::new(),
            server_nonce,
            channel_binding: None,
            state: ServerState::AwaitingClientFirst,
        }
    }

    /// Start an exchange that `secret` or any of `alternatives` passes. Alternatives must have
    /// been derived with `secret`'s salt and iterations ([`ScramSecret::from_password_like`]);
    /// any that were not are ignored, since the client only ever sees `secret`'s salt.
    pub fn with_alternatives(secret: ScramSecret, alternatives: Vec<ScramSecret>) -> ScramServer {
        let mut server = Self::new(secret);
        server.alternatives = alternatives
            .into_iter()
            .filter(|a| a.salt == server.secret.salt && a.iterations == server.secret.iterations)
            .collect();
        server
    }

    /// The mechanisms to list in AuthenticationSASL, preferred first.
    pub fn mechanisms(&self) -> &'static [&'static str] {
        match self.channel_binding {
            Some(_) => &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256],
            None => &[SCRAM_SHA_256],
        }
    }

    /// Checks the client's GS2 flag against the mechanism it chose and what we offered;
    /// returns the channel-binding data client-final must echo after the GS2 header.
    fn accept_flag(&self, mechanism: &str, flag: Gs2Flag) -> Result<&[u8], ScramError> {
        let plus = mechanism == SCRAM_SHA_256_PLUS;
        match (&self.channel_binding, plus, flag) {
            (_, false, Gs2Flag::NotSupported) => Ok(&[]),
            (None, false, Gs2Flag::ClientOnly) => Ok(&[]),
            (Some(_), false, Gs2Flag::ClientOnly) => Err(ScramError::ChannelBindingDowngrade),
            (Some(data), true, Gs2Flag::Bound) => Ok(data),
            (_, _, Gs2Flag::Bound) => Err(ScramError::ChannelBindingNotSupported),
            (_, true, _) => Err(ScramError::Malformed(
                "SCRAM-SHA-256-PLUS without the p=tls-server-end-point flag",
            )),
        }
    }

    /// Input: the SASLInitialResponse's mechanism name and data. Output: server-first-message
    /// bytes (for AuthenticationSASLContinue). Generates an 18-byte random server nonce part
    /// (base64) appended to the client nonce.
    pub fn client_first(&mut self, mechanism: &str, data: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ServerState::AwaitingClientFirst) {
            return Err(ScramError::OutOfOrder);
        }
        self.state = ServerState::Finished;
        if !self.mechanisms().contains(&mechanism) {
            let shown = mechanism.chars().take(MAX_MECHANISM_IN_ERROR).collect();
            return Err(ScramError::UnsupportedMechanism(shown));
        }
        let first = parse_client_first(as_text(data)?)?;
        let binding = self.accept_flag(mechanism, first.flag)?;
        let cbind_input = [first.gs2_header.as_bytes(), binding].concat();
        let nonce = format!("{}{}", first.nonce, self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&self.secret.salt),
            self.secret.iterations
        );
        let reply = server_first.clone().into_bytes();
        self.state = ServerState::AwaitingClientFinal(ServerExchange {
            cbind_input,
            client_first_bare: first.bare.to_owned(),
            server_first,
            nonce,
        });
        Ok(reply)
    }

    /// Input: client-final-message. Verifies the channel-binding echo `c=` (the GS2 header,
    /// plus the certificate hash for SCRAM-SHA-256-PLUS), nonce, and proof
    /// (constant-time compare). Output: server-final-message bytes (`v=...`) for
    /// AuthenticationSASLFinal. `Ok` means the client is authenticated.
    pub fn client_final(&mut self, data: &[u8]) -> Result<Vec<u8>, ScramError> {
        let ServerState::AwaitingClientFinal(exchange) =
            mem::replace(&mut self.state, ServerState::Finished)
        else {
            return Err(ScramError::OutOfOrder);
        };
        let client_final = parse_client_final(as_text(data)?)?;
        let echoed = BASE64
            .decode(client_final.channel_binding)
            .unwrap_or_default();
        if !bool::from(echoed.ct_eq(&exchange.cbind_input)) {
            return Err(ScramError::ChannelBindingMismatch);
        }
        if client_final.nonce != exchange.nonce {
            return Err(ScramError::NonceMismatch);
        }
        let auth_message = format!(
            "{},{},{}",
            exchange.client_first_bare, exchange.server_first, client_final.without_proof
        );
        // Every candidate is checked (collected, not short-circuited), so the time taken does
        // not say which one passed.
        let checked: Vec<Option<&ScramSecret>> = std::iter::once(&self.secret)
            .chain(&self.alternatives)
            .map(|s| {
                s.verify_proof(&auth_message, &client_final.proof)
                    .ok()
                    .map(|()| s)
            })
            .collect();
        let passed = checked
            .into_iter()
            .flatten()
            .next()
            .ok_or(ScramError::InvalidProof)?;
        let signature = hmac(&passed.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(signature)).into_bytes())
    }
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ServerState::AwaitingClientFirst => "AwaitingClientFirst",
            ServerState::AwaitingClientFinal(_) => "AwaitingClientFinal",
            ServerState::Finished => "Finished",
        };
        f.debug_struct("ScramServer")
            .field("state", &state)
            .finish()
    }
}

/// One client-side exchange (the proxy logging in to PostgreSQL).
pub struct ScramClient {
    nonce: String,
    client_first_bare: String,
    binding: ClientBinding,
    state: ClientState,
}

/// What the client side says about channel binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientBinding {
    /// `n`: no TLS, or no usable certificate hash.
    NotSupported,
    /// `y`: we could bind, but the server did not offer SCRAM-SHA-256-PLUS.
    ServerDidNotOffer,
    /// `p=tls-server-end-point` with the hash of the server's certificate.
    TlsServerEndPoint(Vec<u8>),
}

impl ClientBinding {
    fn gs2_header(&self) -> String {
        match self {
            ClientBinding::NotSupported => GS2_HEADER.to_owned(),
            ClientBinding::ServerDidNotOffer => "y,,".to_owned(),
            ClientBinding::TlsServerEndPoint(_) => format!("p={TLS_SERVER_END_POINT},,"),
        }
    }

    /// client-final's `c=` value, before base64.
    fn cbind_input(&self) -> Vec<u8> {
        let mut input = self.gs2_header().into_bytes();
        if let ClientBinding::TlsServerEndPoint(data) = self {
            input.extend_from_slice(data);
        }
        input
    }
}

enum ClientState {
    /// The password lives only until the proof is computed.
    AwaitingServerFirst {
        password: String,
    },
    AwaitingServerFinal {
        server_signature: [u8; 32],
    },
    Finished,
}

impl ScramClient {
    /// Start an exchange with a random 18-byte (base64) client nonce.
    pub fn new(password: &str) -> ScramClient {
        Self::with_binding(password, ClientBinding::NotSupported)
    }

    /// Start an exchange that binds to the TLS channel (or says why it does not).
    pub fn with_binding(password: &str, binding: ClientBinding) -> ScramClient {
        // PostgreSQL ignores the SCRAM user name in favour of the startup packet's.
        let mut client = Self::with_nonce(password, random_nonce(), "");
        client.binding = binding;
        client
    }

    /// The mechanism to name in SASLInitialResponse.
    pub fn mechanism(&self) -> &'static str {
        match self.binding {
            ClientBinding::TlsServerEndPoint(_) => SCRAM_SHA_256_PLUS,
            _ => SCRAM_SHA_256,
        }
    }

    fn with_nonce(password: &str, nonce: String, user: &str) -> ScramClient {
        ScramClient {
            client_first_bare: format!("n={user},r={nonce}"),
            binding: ClientBinding::NotSupported,
            nonce,
            state: ClientState::AwaitingServerFirst {
                password: password.to_owned(),
            },
        }
    }

    /// client-first-message bytes: `<gs2 header>n=,r=<nonce>`.
    pub fn client_first(&self) -> Vec<u8> {
        format!("{}{}", self.binding.gs2_header(), self.client_first_bare).into_bytes()
    }

    /// Input server-first (`r=...,s=...,i=...`); checks the nonce extends ours and the
    /// iteration count is in `1..=1_000_000`; returns client-final bytes.
    pub fn server_first(&mut self, data: &[u8]) -> Result<Vec<u8>, ScramError> {
        self.continue_with(data, |password, salt, iterations| {
            salted_password(password.as_bytes(), salt, iterations)
        })
    }

    /// Like [`ScramClient::server_first`], but reuses SaltedPassword from `cache` when the
    /// server repeats a salt and iteration count, skipping PBKDF2.
    pub fn server_first_with_cache(
        &mut self,
        data: &[u8],
        cache: &ScramKeyCache,
    ) -> Result<Vec<u8>, ScramError> {
        self.continue_with(data, |password, salt, iterations| {
            cache.salted_password(password, salt, iterations)
        })
    }

    fn continue_with(
        &mut self,
        data: &[u8],
        derive: impl FnOnce(&str, &[u8], u32) -> [u8; 32],
    ) -> Result<Vec<u8>, ScramError> {
        let ClientState::AwaitingServerFirst { password } =
            mem::replace(&mut self.state, ClientState::Finished)
        else {
            return Err(ScramError::OutOfOrder);
        };
        let server_first = as_text(data)?;
        let params = parse_server_first(server_first, &self.nonce)?;
        let keys = Keys::from_salted(&derive(&password, &params.salt, params.iterations));
        let cbind = BASE64.encode(self.binding.cbind_input());
        let without_proof = format!("c={cbind},r={}", params.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(&keys.stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        self.state = ClientState::AwaitingServerFinal {
            server_signature: hmac(&keys.server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Verify server-final `v=<ServerSignature>`; `e=<error>` becomes
    /// [`ScramError::ServerError`] carrying the server's message.
    pub fn server_final(&self, data: &[u8]) -> Result<(), ScramError> {
        let ClientState::AwaitingServerFinal { server_signature } = &self.state else {
            return Err(ScramError::OutOfOrder);
        };
        let first = as_text(data)?.split(',').next().unwrap_or_default();
        if let Some(message) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(message.to_owned()));
        }
        let verifier = attribute(Some(first), b'v', "server-final lacks verifier v=")?;
        let signature = decode_key(verifier, "server signature is not 32 bytes of base64")?;
        if bool::from(signature.ct_eq(server_signature)) {
            Ok(())
        } else {
            Err(ScramError::InvalidServerSignature)
        }
    }
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ClientState::AwaitingServerFirst { .. } => "AwaitingServerFirst",
            ClientState::AwaitingServerFinal { .. } => "AwaitingServerFinal",
            ClientState::Finished => "Finished",
        };
        f.debug_struct("ScramClient")
            .field("state", &state)
            .finish()
    }
}

/// SaltedPassword by (salt, iterations).
type SaltedPasswords = HashMap<(Vec<u8>, u32), [u8; 32]>;

/// Memoizes SaltedPassword for one password, keyed by (salt, iterations), so repeated logins
/// to the same server skip PBKDF2. Share one per (server, user) across connections.
pub struct ScramKeyCache {
    password: String,
    // A plain std Mutex: the lock guards only a HashMap lookup or insert (PBKDF2 runs outside
    // it, and it is never held across an await), so contention is negligible and the cache
    // stays Send + Sync without an async lock.
    salted: Mutex<SaltedPasswords>,
}

impl ScramKeyCache {
    /// An empty cache for `password`.
    pub fn new(password: &str) -> ScramKeyCache {
        ScramKeyCache {
            password: password.to_owned(),
            salted: Mutex::new(HashMap::new()),
        }
    }

    fn salted_password(&self, password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
        if !bool::from(password.as_bytes().ct_eq(self.password.as_bytes())) {
            // A cache built for another password must neither serve nor store this one.
            return salted_password(password.as_bytes(), salt, iterations);
        }
        let key = (salt.to_vec(), iterations);
        if let Some(hit) = self.entries().get(&key) {
            return *hit;
        }
        // Two concurrent first logins may both compute this; that beats serialising on PBKDF2.
        let salted = salted_password(password.as_bytes(), salt, iterations);
        let mut entries = self.entries();
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(key, salted);
        salted
    }

    fn entries(&self) -> MutexGuard<'_, SaltedPasswords> {
        // Every mutation is a single insert or clear, so a map behind a poisoned lock is
        // still consistent.
        self.salted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ScramKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeyCache")
            .field("entries", &self.entries().len())
            .finish()
    }
}

/// The password and every SaltedPassword (as good as the password for SCRAM) are wiped when a
/// rotated-out cache is dropped.
impl Drop for ScramKeyCache {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
        for salted in self.entries().values_mut() {
            zeroize::Zeroize::zeroize(salted);
        }
    }
}

/// ClientKey, StoredKey and ServerKey, all derived from SaltedPassword.
struct Keys {
    client_key: [u8; 32],
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl Keys {
    fn from_salted(salted_password: &[u8; 32]) -> Keys {
        let client_key = hmac(salted_password, b"Client Key");
        Keys {
            client_key,
            stored_key: sha256(&client_key),
            server_key: hmac(salted_password, b"Server Key"),
        }
    }
}

/// The GS2 channel-binding flag of client-first (RFC 5802 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gs2Flag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
    /// `p=tls-server-end-point`: the client binds to the channel.
    Bound,
}

struct ClientFirst<'a> {
    flag: Gs2Flag,
    gs2_header: &'a str,
    bare: &'a str,
    nonce: &'a str,
}

fn parse_client_first(msg: &str) -> Result<ClientFirst<'_>, ScramError> {
    const NO_HEADER: ScramError = ScramError::Malformed("client-first lacks a GS2 header");
    let mut parts = msg.splitn(3, ',');
    let flag = channel_binding_flag(parts.next().unwrap_or_default())?;
    let authzid = parts.next().ok_or(NO_HEADER)?;
    if !authzid.is_empty() {
        return Err(ScramError::Malformed(
            "authorization identity is not supported",
        ));
    }
    let bare = parts.next().ok_or(NO_HEADER)?;
    let mut attrs = bare.split(',');
    // PostgreSQL takes the user from the startup packet, so the SCRAM name is ignored.
    attribute(attrs.next(), b'n', "client-first lacks user name n=")?;
    let nonce = attribute(attrs.next(), b'r', "client-first lacks nonce r=")?;
    if !is_valid_nonce(nonce) {
        return Err(ScramError::Malformed(
            "client nonce is empty or not printable",
        ));
    }
    Ok(ClientFirst {
        flag,
        gs2_header: &msg[..msg.len() - bare.len()],
        bare,
        nonce,
    })
}

fn channel_binding_flag(flag: &str) -> Result<Gs2Flag, ScramError> {
    match flag.strip_prefix("p=") {
        Some(TLS_SERVER_END_POINT) => Ok(Gs2Flag::Bound),
        Some(_) => Err(ScramError::ChannelBindingNotSupported),
        None if flag == "n" => Ok(Gs2Flag::NotSupported),
        None if flag == "y" => Ok(Gs2Flag::ClientOnly),
        None => Err(ScramError::Malformed("invalid GS2 channel-binding flag")),
    }
}

struct ClientFinal<'a> {
    without_proof: &'a str,
    channel_binding: &'a str,
    nonce: &'a str,
    proof: [u8; 32],
}

fn parse_client_final(msg: &str) -> Result<ClientFinal<'_>, ScramError> {
    // The proof is always the last attribute, and base64 contains no ',' to confuse this.
    let (without_proof, proof) = msg
        .rsplit_once(",p=")
        .ok_or(ScramError::Malformed("client-final lacks proof p="))?;
    let mut attrs = without_proof.split(',');
    let channel_binding = attribute(attrs.next(), b'c', "client-final lacks channel binding c=")?;
    let nonce = attribute(attrs.next(), b'r', "client-final lacks nonce r=")?;
    Ok(ClientFinal {
        without_proof,
        channel_binding,
        nonce,
        proof: decode_key(proof, "client proof is not 32 bytes of base64")?,
    })
}

struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

fn parse_server_first<'a>(msg: &'a str, client_nonce: &str) -> Result<ServerFirst<'a>, ScramError> {
    if let Some(message) = msg.strip_prefix("e=") {
        return Err(ScramError::ServerError(message.to_owned()));
    }
    let mut attrs = msg.split(',');
    let nonce = attribute(attrs.next(), b'r', "server-first lacks nonce r=")?;
    if !is_valid_nonce(nonce) {
        return Err(ScramError::Malformed("server nonce is not printable"));
    }
    // The server must append its own part; echoing ours alone would defeat replay protection.
    if nonce.len() <= client_nonce.len() || !nonce.starts_with(client_nonce) {
        return Err(ScramError::NonceMismatch);
    }
    let salt = decode_salt(attribute(attrs.next(), b's', "server-first lacks salt s=")?)?;
    let iterations = attribute(attrs.next(), b'i', "server-first lacks iteration count i=")?;
    let iterations = parse_count(iterations)
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or(ScramError::Malformed(
            "server iteration count is not in 1..=1000000",
        ))?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// The value of `part` if it is `<key>=<value>`; SCRAM fixes the order of attributes, so
/// parsers read them one by one rather than building a map.
fn attribute<'a>(
    part: Option<&'a str>,
    key: u8,
    missing: &'static str,
) -> Result<&'a str, ScramError> {
    match part {
        Some(part) if part.as_bytes().starts_with(&[key, b'=']) => Ok(&part[2..]),
        _ => Err(ScramError::Malformed(missing)),
    }
}

/// RFC 5802 `printable`: visible ASCII except ','.
fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// Digits only: `str::parse` would also accept a leading '+'.
fn parse_count(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn decode_salt(s: &str) -> Result<Vec<u8>, ScramError> {
    BASE64
        .decode(s)
        .ok()
        .filter(|salt| !salt.is_empty())
        .ok_or(ScramError::Malformed("salt is empty or not base64"))
}

fn decode_key(s: &str, what: &'static str) -> Result<[u8; 32], ScramError> {
    BASE64
        .decode(s)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(ScramError::Malformed(what))
}

fn as_text(data: &[u8]) -> Result<&str, ScramError> {
    std::str::from_utf8(data).map_err(|_| ScramError::Malformed("message is not UTF-8"))
}

fn random_nonce() -> String {
    let mut bytes = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut bytes);
    BASE64.encode(bytes)
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations)
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA-256 accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_PASSWORD: &str = "pencil";
    const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                    p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    /// From PostgreSQL 15: `ALTER ROLE postgres PASSWORD 'pencil'`, then read pg_authid.
    const PG_PENCIL: &str = "SCRAM-SHA-256$4096:W+15zCCVMiQPUFtvoaMMzg==$\
                             G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:\
                             +WvwKWtL1rlG3y8rIQg6NBd9zYwya4wT/dQzMc9OIWA=";

    /// Few iterations: these tests exercise the protocol, not PBKDF2 cost.
    fn cheap_secret(password: &str) -> ScramSecret {
        ScramSecret::from_password_with(password, b"0123456789abcdef", 16)
    }

    fn rfc_secret() -> ScramSecret {
        let salt = BASE64.decode(RFC_SALT).expect("RFC salt is base64");
        ScramSecret::from_password_with(RFC_PASSWORD, &salt, 4096)
    }

    fn rfc_server() -> ScramServer {
        ScramServer::with_server_nonce(rfc_secret(), RFC_SERVER_NONCE.to_owned())
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("SCRAM messages are UTF-8")
    }

    /// Runs a whole exchange; returns the server's verdict, and the client's if it got there.
    fn exchange(
        client: &mut ScramClient,
        server: &mut ScramServer,
        cache: Option<&ScramKeyCache>,
    ) -> Result<(), ScramError> {
        let server_first = server.client_first(SCRAM_SHA_256, &client.client_first())?;
        let client_final = match cache {
            Some(cache) => client.server_first_with_cache(&server_first, cache)?,
            None => client.server_first(&server_first)?,
        };
        let server_final = server.client_final(&client_final)?;
        client.server_final(&server_final)
    }

    /// A client-final computed by hand, for GS2 headers ScramClient never sends.
    fn client_final_for(
        password: &str,
        gs2_header: &str,
        bare: &str,
        server_first: &str,
    ) -> String {
        let nonce = server_first
            .split(',')
            .next()
            .and_then(|r| r.strip_prefix("r="))
            .expect("server-first starts with r=");
        let salted = salted_password(password.as_bytes(), b"0123456789abcdef", 16);
        let keys = Keys::from_salted(&salted);
        let without_proof = format!("c={},r={nonce}", BASE64.encode(gs2_header));
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let proof = xor(
            &keys.client_key,
            &hmac(&keys.stored_key, auth_message.as_bytes()),
        );
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    #[test]
    fn rfc7677_vector_client_side() {
        let mut client = ScramClient::with_nonce(RFC_PASSWORD, RFC_CLIENT_NONCE.to_owned(), "user");
        assert_eq!(text(client.client_first()), RFC_CLIENT_FIRST);
        let client_final = client
            .server_first(RFC_SERVER_FIRST.as_bytes())
            .expect("valid server-first");
        assert_eq!(text(client_final), RFC_CLIENT_FINAL);
        client
            .server_final(RFC_SERVER_FINAL.as_bytes())
            .expect("RFC server signature verifies");
    }

    #[test]
    fn rfc7677_vector_server_side() {
        let mut server = rfc_server();
        let server_first = server
            .client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes())
            .expect("valid client-first");
        assert_eq!(text(server_first), RFC_SERVER_FIRST);
        let server_final = server
            .client_final(RFC_CLIENT_FINAL.as_bytes())
            .expect("RFC proof verifies");
        assert_eq!(text(server_final), RFC_SERVER_FINAL);
    }

    #[test]
    fn gs2_header_echo_is_biws() {
        assert_eq!(BASE64.encode(GS2_HEADER), GS2_HEADER_B64);
    }

    #[test]
    fn round_trip_with_right_password() {
        let mut client = ScramClient::new("s3cret");
        let mut server = ScramServer::new(cheap_secret("s3cret"));
        assert_eq!(exchange(&mut client, &mut server, None), Ok(()));
        assert!(text(client.client_first()).starts_with("n,,n=,r="));
    }

    #[test]
    fn round_trip_with_wrong_password_fails_at_proof() {
        let mut client = ScramClient::new("wrong");
        let mut server = ScramServer::new(cheap_secret("s3cret"));
        assert_eq!(
            exchange(&mut client, &mut server, None),
            Err(ScramError::InvalidProof)
        );
        assert_eq!(server.client_final(b"c=biws"), Err(ScramError::OutOfOrder));
    }

    #[test]
    fn an_alternative_with_the_same_salt_also_passes() {
        let current = cheap_secret("current");
        let pending = ScramSecret::from_password_like("pending", &current);
        for (password, verdict) in [
            ("current", Ok(())),
            ("pending", Ok(())),
            ("other", Err(ScramError::InvalidProof)),
        ] {
            let mut client = ScramClient::new(password);
            let mut server = ScramServer::with_alternatives(current.clone(), vec![pending.clone()]);
            // Ok includes the client checking the server signature of the verifier that passed.
            assert_eq!(
                exchange(&mut client, &mut server, None),
                verdict,
                "{password}"
            );
        }
        // One with another salt could never be checked against the salt the client saw.
        let stray = ScramSecret::from_password_with("stray", b"another-salt-16b", 16);
        let mut server = ScramServer::with_alternatives(current, vec![stray]);
        let mut client = ScramClient::new("stray");
        assert_eq!(
            exchange(&mut client, &mut server, None),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn round_trip_with_default_secret() {
        let secret = ScramSecret::from_password("s3cret");
        assert!(secret.to_pg_string().starts_with("SCRAM-SHA-256$4096:"));
        let mut client = ScramClient::new("s3cret");
        let mut server = ScramServer::new(secret);
        assert_eq!(exchange(&mut client, &mut server, None), Ok(()));
    }

    #[test]
    fn fresh_secrets_and_nonces_are_random() {
        assert_ne!(
            ScramSecret::from_password("x").to_pg_string(),
            ScramSecret::from_password("x").to_pg_string()
        );
        assert_ne!(
            ScramClient::new("x").client_first(),
            ScramClient::new("x").client_first()
        );
    }

    #[test]
    fn real_postgres_secret_parses_and_round_trips() {
        let secret = ScramSecret::parse(PG_PENCIL).expect("PostgreSQL secret parses");
        assert_eq!(secret.to_pg_string(), PG_PENCIL);
        let rederived = ScramSecret::from_password_with("pencil", &secret.salt, secret.iterations);
        assert_eq!(rederived.to_pg_string(), PG_PENCIL);

        let mut client = ScramClient::new("pencil");
        let mut server = ScramServer::new(secret);
        assert_eq!(exchange(&mut client, &mut server, None), Ok(()));
    }

    #[test]
    fn generated_secret_parses_back() {
        let secret = cheap_secret("hunter2");
        let parsed = ScramSecret::parse(&secret.to_pg_string()).expect("own format parses");
        assert_eq!(parsed.to_pg_string(), secret.to_pg_string());
        // Computed independently with Python's hashlib.pbkdf2_hmac and hmac.
        assert_eq!(
            secret.to_pg_string(),
            "SCRAM-SHA-256$16:MDEyMzQ1Njc4OWFiY2RlZg==$\
             CUpVPp/TqQjHWJ9eYpG3jE7yqsfQkMWYAknFMGz2VEE=:\
             o2/xsFW4Mg7HgM5LEMN559T4xcCjoAA17Op7gNmx7Y8="
        );
    }

    #[test]
    fn malformed_secrets_are_rejected() {
        let bad = [
            "",
            "md5a3556571e93b0d20722ba62be61e8c2d",
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$4096:c2FsdA==$",
            "SCRAM-SHA-256$0:c2FsdA==$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$+1:c2FsdA==$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$99999999999:c2FsdA==$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$4096:$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$4096:!!!$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=",
            "SCRAM-SHA-256$4096:c2FsdA==$G1TAns+s3BJlqPEtmoNC+KgAqhb07UzZXre9jUshgxk=:not base64!",
        ];
        for s in bad {
            assert!(
                matches!(ScramSecret::parse(s), Err(ScramError::Malformed(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn debug_output_is_redacted() {
        let secret = ScramSecret::parse(PG_PENCIL).expect("PostgreSQL secret parses");
        let shown = format!("{secret:?}");
        assert_eq!(
            shown,
            r#"ScramSecret { iterations: 4096, keys: "<redacted>" }"#
        );
        let client = format!("{:?}", ScramClient::new("pencil"));
        assert!(!client.contains("pencil"), "{client}");
        let cache = format!("{:?}", ScramKeyCache::new("pencil"));
        assert!(!cache.contains("pencil"), "{cache}");
        let server = format!("{:?}", ScramServer::new(secret));
        assert!(!server.contains("G1TA"), "{server}");
    }

    #[test]
    fn mock_secret_is_deterministic_per_user_and_key() {
        let key = [7u8; 32];
        let alice = ScramSecret::mock("alice", &key).to_pg_string();
        assert_eq!(alice, ScramSecret::mock("alice", &key).to_pg_string());
        assert_ne!(alice, ScramSecret::mock("bob", &key).to_pg_string());
        assert_ne!(alice, ScramSecret::mock("alice", &[8u8; 32]).to_pg_string());
        assert!(alice.starts_with("SCRAM-SHA-256$4096:"));
    }

    #[test]
    fn mock_secret_repeats_salt_and_fails_only_at_proof() {
        let key = [7u8; 32];
        let salt_of = |server_first: Vec<u8>| {
            let server_first = text(server_first);
            let salt = server_first.split(',').nth(1).map(str::to_owned);
            salt.expect("server-first has a salt")
        };
        let mut salts = Vec::new();
        for password in ["", "guess", "another guess"] {
            let client = ScramClient::new(password);
            let mut server = ScramServer::new(ScramSecret::mock("ghost", &key));
            let server_first = server
                .client_first(SCRAM_SHA_256, &client.client_first())
                .expect("mock accepts client-first");
            salts.push(salt_of(server_first));

            let mut client = ScramClient::new(password);
            let mut server = ScramServer::new(ScramSecret::mock("ghost", &key));
            assert_eq!(
                exchange(&mut client, &mut server, None),
                Err(ScramError::InvalidProof)
            );
        }
        assert!(salts.windows(2).all(|w| w[0] == w[1]), "{salts:?}");
        assert_eq!(
            salts[0].len(),
            "s=".len() + 24,
            "16-byte salt like a real one"
        );
    }

    #[test]
    fn server_rejects_other_mechanisms() {
        let mut server = rfc_server();
        assert_eq!(
            server.client_first("SCRAM-SHA-256-PLUS", RFC_CLIENT_FIRST.as_bytes()),
            Err(ScramError::UnsupportedMechanism(
                "SCRAM-SHA-256-PLUS".into()
            ))
        );
        let long = "x".repeat(10_000);
        let mut server = rfc_server();
        match server.client_first(&long, RFC_CLIENT_FIRST.as_bytes()) {
            Err(ScramError::UnsupportedMechanism(shown)) => {
                assert_eq!(shown.len(), MAX_MECHANISM_IN_ERROR)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn server_rejects_required_channel_binding() {
        let mut server = rfc_server();
        assert_eq!(
            server.client_first(SCRAM_SHA_256, b"p=tls-server-end-point,,n=,r=abc"),
            Err(ScramError::ChannelBindingNotSupported)
        );
    }

    #[test]
    fn server_accepts_y_flag_and_checks_its_echo() {
        let secret = cheap_secret("pw");
        let bare = "n=ignored-user,r=clientnonce";
        let mut server = ScramServer::new(secret.clone());
        let server_first = text(
            server
                .client_first(SCRAM_SHA_256, format!("y,,{bare}").as_bytes())
                .expect("'y' flag accepted"),
        );
        let client_final = client_final_for("pw", "y,,", bare, &server_first);
        assert!(client_final.starts_with("c=eSws,"));
        assert!(server.client_final(client_final.as_bytes()).is_ok());

        // Echoing "n,," after sending "y,," is a channel-binding mismatch.
        let mut server = ScramServer::new(secret);
        let server_first = text(
            server
                .client_first(SCRAM_SHA_256, format!("y,,{bare}").as_bytes())
                .expect("'y' flag accepted"),
        );
        let client_final = client_final_for("pw", "n,,", bare, &server_first);
        assert_eq!(
            server.client_final(client_final.as_bytes()),
            Err(ScramError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn server_rejects_malformed_client_first() {
        let bad: [&[u8]; 14] = [
            b"",
            b"n",
            b"n,",
            b"n,,",
            b"x,,n=,r=abc",
            b"n,a=admin,n=,r=abc",
            b"n,,r=abc",
            b"n,,n=",
            b"n,,n=,r=",
            b"n,,n=,x=abc",
            b"n,,n=,r=a\x7fb",
            b"n,,n=,r=\xff\xfe",
            b"n,,m=ext,n=,r=abc",
            b",,n=,r=abc",
        ];
        for data in bad {
            let mut server = rfc_server();
            let result = server.client_first(SCRAM_SHA_256, data);
            assert!(
                matches!(result, Err(ScramError::Malformed(_))),
                "{data:?}: {result:?}"
            );
            assert_eq!(
                server.client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes()),
                Err(ScramError::OutOfOrder),
                "a failed exchange cannot be restarted"
            );
        }
    }

    #[test]
    fn server_ignores_user_name_and_extensions() {
        let mut server = rfc_server();
        let reply = server
            .client_first(SCRAM_SHA_256, b"n,,n=anything=at all,r=abc,x=ext")
            .expect("user name and extensions are ignored");
        assert!(text(reply).starts_with(&format!("r=abc{RFC_SERVER_NONCE},")));
    }

    #[test]
    fn server_rejects_bad_client_final() {
        let proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let cases: Vec<(String, ScramError)> = vec![
            (
                String::new(),
                ScramError::Malformed("client-final lacks proof p="),
            ),
            (
                format!("c=biws,{nonce}"),
                ScramError::Malformed("client-final lacks proof p="),
            ),
            (
                format!("{nonce},{proof}"),
                ScramError::Malformed("client-final lacks channel binding c="),
            ),
            (
                format!("c=biws,{proof}"),
                ScramError::Malformed("client-final lacks nonce r="),
            ),
            (
                format!("c=biws,{nonce},p=!!!"),
                ScramError::Malformed("client proof is not 32 bytes of base64"),
            ),
            (
                format!("c=biws,{nonce},p=c2hvcnQ="),
                ScramError::Malformed("client proof is not 32 bytes of base64"),
            ),
            (
                format!("c=eSws,{nonce},{proof}"),
                ScramError::ChannelBindingMismatch,
            ),
            (
                format!("c=!!,{nonce},{proof}"),
                ScramError::ChannelBindingMismatch,
            ),
            (
                format!("c=biws,r=rOprNGfwEbeRWgbNEkqO,{proof}"),
                ScramError::NonceMismatch,
            ),
            (
                format!("c=biws,{nonce},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                ScramError::InvalidProof,
            ),
        ];
        for (data, expected) in cases {
            let mut server = rfc_server();
            server
                .client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes())
                .expect("valid client-first");
            assert_eq!(
                server.client_final(data.as_bytes()),
                Err(expected),
                "{data:?}"
            );
            assert_eq!(
                server.client_final(RFC_CLIENT_FINAL.as_bytes()),
                Err(ScramError::OutOfOrder)
            );
        }
    }

    #[test]
    fn server_steps_out_of_order() {
        let mut server = rfc_server();
        assert_eq!(
            server.client_final(RFC_CLIENT_FINAL.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
        let mut server = rfc_server();
        server
            .client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes())
            .expect("valid client-first");
        assert_eq!(
            server.client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
    }

    #[test]
    fn client_rejects_bad_server_first() {
        let n = RFC_CLIENT_NONCE;
        let cases: Vec<(String, ScramError)> = vec![
            (
                String::new(),
                ScramError::Malformed("server-first lacks nonce r="),
            ),
            (
                format!("r={n}x"),
                ScramError::Malformed("server-first lacks salt s="),
            ),
            (
                format!("r={n}x,s={RFC_SALT}"),
                ScramError::Malformed("server-first lacks iteration count i="),
            ),
            (
                format!("r={n}x,s=!!!,i=4096"),
                ScramError::Malformed("salt is empty or not base64"),
            ),
            (
                format!("r={n}x,s=,i=4096"),
                ScramError::Malformed("salt is empty or not base64"),
            ),
            (
                format!("r={n},s={RFC_SALT},i=4096"),
                ScramError::NonceMismatch,
            ),
            (
                format!("r=other{n},s={RFC_SALT},i=4096"),
                ScramError::NonceMismatch,
            ),
            (
                format!("r=rOpr,s={RFC_SALT},i=4096"),
                ScramError::NonceMismatch,
            ),
            (
                format!("r={n}x\u{7f},s={RFC_SALT},i=4096"),
                ScramError::Malformed("server nonce is not printable"),
            ),
            (
                "e=other-error".to_owned(),
                ScramError::ServerError("other-error".into()),
            ),
            (
                format!("m=ext,r={n}x,s={RFC_SALT},i=4096"),
                ScramError::Malformed("server-first lacks nonce r="),
            ),
        ];
        for (data, expected) in cases {
            let mut client = ScramClient::with_nonce("pencil", n.to_owned(), "");
            assert_eq!(
                client.server_first(data.as_bytes()),
                Err(expected),
                "{data:?}"
            );
            assert_eq!(
                client.server_first(RFC_SERVER_FIRST.as_bytes()),
                Err(ScramError::OutOfOrder)
            );
        }
    }

    #[test]
    fn client_caps_iteration_count() {
        let too_many = MAX_ITERATIONS + 1;
        for i in [
            "0",
            "-1",
            "+5",
            "abc",
            "",
            "99999999999",
            &too_many.to_string(),
        ] {
            let data = format!("r={RFC_CLIENT_NONCE}x,s={RFC_SALT},i={i}");
            let mut client = ScramClient::with_nonce("pencil", RFC_CLIENT_NONCE.to_owned(), "");
            assert_eq!(
                client.server_first(data.as_bytes()),
                Err(ScramError::Malformed(
                    "server iteration count is not in 1..=1000000"
                )),
                "{i}"
            );
        }
    }

    #[test]
    fn client_rejects_bad_server_final() {
        let ready = || {
            let mut client =
                ScramClient::with_nonce(RFC_PASSWORD, RFC_CLIENT_NONCE.to_owned(), "user");
            client
                .server_first(RFC_SERVER_FIRST.as_bytes())
                .expect("valid server-first");
            client
        };
        let client = ready();
        assert_eq!(
            client.server_final(b"e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
        assert!(client
            .server_final(b"e=invalid-proof")
            .expect_err("error")
            .to_string()
            .contains("invalid-proof"));
        assert_eq!(
            client.server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(ScramError::InvalidServerSignature)
        );
        for bad in [&b""[..], b"v=", b"v=!!!", b"x=abc", b"\xff"] {
            assert!(
                matches!(client.server_final(bad), Err(ScramError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(client.server_final(RFC_SERVER_FINAL.as_bytes()), Ok(()));
    }

    #[test]
    fn client_steps_out_of_order() {
        let client = ScramClient::new("pencil");
        assert_eq!(
            client.server_final(RFC_SERVER_FINAL.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
    }

    #[test]
    fn key_cache_reuses_salted_password() {
        let cache = ScramKeyCache::new("s3cret");
        for _ in 0..3 {
            let mut client = ScramClient::new("s3cret");
            let mut server = ScramServer::new(cheap_secret("s3cret"));
            assert_eq!(exchange(&mut client, &mut server, Some(&cache)), Ok(()));
        }
        assert_eq!(cache.entries().len(), 1);

        let other_salt = ScramSecret::from_password_with("s3cret", b"other salt", 16);
        let mut client = ScramClient::new("s3cret");
        let mut server = ScramServer::new(other_salt);
        assert_eq!(exchange(&mut client, &mut server, Some(&cache)), Ok(()));
        assert_eq!(cache.entries().len(), 2);
    }

    #[test]
    fn key_cache_ignores_other_passwords() {
        let cache = ScramKeyCache::new("cached");
        let mut client = ScramClient::new("different");
        let mut server = ScramServer::new(cheap_secret("different"));
        assert_eq!(exchange(&mut client, &mut server, Some(&cache)), Ok(()));
        assert_eq!(cache.entries().len(), 0);

        let mut client = ScramClient::new("cached");
        let mut server = ScramServer::new(cheap_secret("different"));
        assert_eq!(
            exchange(&mut client, &mut server, Some(&cache)),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn key_cache_is_bounded() {
        let cache = ScramKeyCache::new("pw");
        for i in 0..(MAX_CACHED_KEYS as u32 + 3) {
            cache.salted_password("pw", b"salt", i + 1);
        }
        assert!(cache.entries().len() <= MAX_CACHED_KEYS);
    }

    #[test]
    fn shared_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ScramKeyCache>();
        assert_send_sync::<ScramSecret>();
        assert_send_sync::<ScramServer>();
        assert_send_sync::<ScramClient>();
    }

    #[test]
    fn truncated_messages_never_panic() {
        for end in 0..=RFC_CLIENT_FIRST.len() {
            let _ = rfc_server().client_first(SCRAM_SHA_256, &RFC_CLIENT_FIRST.as_bytes()[..end]);
        }
        for end in 0..=RFC_CLIENT_FINAL.len() {
            let mut server = ScramServer::with_server_nonce(cheap_secret("pw"), "s".into());
            server
                .client_first(SCRAM_SHA_256, RFC_CLIENT_FIRST.as_bytes())
                .expect("valid client-first");
            let _ = server.client_final(&RFC_CLIENT_FINAL.as_bytes()[..end]);
        }
        for end in 0..=RFC_SERVER_FIRST.len() {
            let data = RFC_SERVER_FIRST.replace("i=4096", "i=1");
            let mut client = ScramClient::with_nonce("pw", RFC_CLIENT_NONCE.to_owned(), "");
            let _ = client.server_first(&data.as_bytes()[..end.min(data.len())]);
        }
        for end in 0..=PG_PENCIL.len() {
            let _ = ScramSecret::parse(&PG_PENCIL[..end]);
        }
    }

    #[test]
    fn error_messages_carry_no_secrets() {
        let mut client = ScramClient::new("topsecret");
        let mut server = ScramServer::new(cheap_secret("other"));
        let err = exchange(&mut client, &mut server, None).expect_err("wrong password");
        assert_eq!(err.to_string(), "SCRAM client proof is invalid");
    }

    /// A whole exchange where the client chooses its mechanism from the server's list.
    fn bound_exchange(
        client: &mut ScramClient,
        server: &mut ScramServer,
    ) -> Result<(), ScramError> {
        let mechanism = client.mechanism();
        assert!(server.mechanisms().contains(&mechanism));
        let server_first = server.client_first(mechanism, &client.client_first())?;
        let client_final = client.server_first(&server_first)?;
        let server_final = server.client_final(&client_final)?;
        client.server_final(&server_final)
    }

    const CERT_HASH: &[u8] = b"32 bytes of a certificate hash..";

    #[test]
    fn plus_is_offered_only_with_channel_binding() {
        let plain = ScramServer::new(cheap_secret("pw"));
        assert_eq!(plain.mechanisms(), &[SCRAM_SHA_256]);
        let tls = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert_eq!(tls.mechanisms(), &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256]);
    }

    #[test]
    fn plus_round_trip_with_the_same_certificate() {
        let binding = ClientBinding::TlsServerEndPoint(CERT_HASH.to_vec());
        let mut client = ScramClient::with_binding("pw", binding);
        assert_eq!(client.mechanism(), SCRAM_SHA_256_PLUS);
        assert!(text(client.client_first()).starts_with("p=tls-server-end-point,,n=,r="));
        let mut server = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert_eq!(bound_exchange(&mut client, &mut server), Ok(()));
    }

    #[test]
    fn plus_fails_when_the_client_saw_another_certificate() {
        // A man in the middle terminates TLS with its own certificate: the client hashes that.
        let binding = ClientBinding::TlsServerEndPoint(b"hash of the attacker's cert".to_vec());
        let mut client = ScramClient::with_binding("pw", binding);
        let mut server = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert_eq!(
            bound_exchange(&mut client, &mut server),
            Err(ScramError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn y_flag_after_plus_was_offered_is_a_downgrade() {
        let mut client = ScramClient::with_binding("pw", ClientBinding::ServerDidNotOffer);
        assert!(text(client.client_first()).starts_with("y,,"));
        let mut server = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert_eq!(
            bound_exchange(&mut client, &mut server),
            Err(ScramError::ChannelBindingDowngrade)
        );
        // Without PLUS on offer, 'y' is the honest answer and goes through.
        let mut client = ScramClient::with_binding("pw", ClientBinding::ServerDidNotOffer);
        let mut server = ScramServer::new(cheap_secret("pw"));
        assert_eq!(bound_exchange(&mut client, &mut server), Ok(()));
    }

    #[test]
    fn client_without_binding_support_still_logs_in_over_tls() {
        let mut client = ScramClient::new("pw");
        let mut server = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert_eq!(bound_exchange(&mut client, &mut server), Ok(()));
    }

    #[test]
    fn flag_and_mechanism_must_agree() {
        let tls = || ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        assert!(matches!(
            tls().client_first(SCRAM_SHA_256_PLUS, b"n,,n=,r=abc"),
            Err(ScramError::Malformed(_))
        ));
        assert_eq!(
            tls().client_first(SCRAM_SHA_256, b"p=tls-server-end-point,,n=,r=abc"),
            Err(ScramError::ChannelBindingNotSupported)
        );
        assert_eq!(
            tls().client_first(SCRAM_SHA_256_PLUS, b"p=tls-unique,,n=,r=abc"),
            Err(ScramError::ChannelBindingNotSupported)
        );
    }

    #[test]
    fn plus_client_final_must_carry_the_hash_not_just_the_header() {
        let mut server = ScramServer::with_channel_binding(cheap_secret("pw"), CERT_HASH.to_vec());
        let bare = "n=,r=clientnonce";
        let header = "p=tls-server-end-point,,";
        let first = format!("{header}{bare}");
        let server_first = text(
            server
                .client_first(SCRAM_SHA_256_PLUS, first.as_bytes())
                .expect("PLUS accepted over TLS"),
        );
        let client_final = client_final_for("pw", header, bare, &server_first);
        assert_eq!(
            server.client_final(client_final.as_bytes()),
            Err(ScramError::ChannelBindingMismatch)
        );
    }
}
