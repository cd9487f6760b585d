//! Token authentication against real PostgreSQL 15 and real clients over real TLS (psql/libpq
//! and tokio-postgres with rustls): tokens Sluice issues itself (`sluice token`, the binary and
//! the library), OIDC tokens checked against a JWKS file and a JWKS URL that is refreshed, every
//! refusal with its message, plaintext refused, token_auth required and optional, and a session
//! that outlives its token.
#![allow(clippy::unwrap_used)]

mod tls_support;
mod token_support;

use std::path::PathBuf;
use std::time::Duration;

use config::Config;
use serde_json::json;
use sluice::{Proxy, ReloadHandle, ShutdownHandle};
use test_support::{HbaAuth, PgCluster};
use tls_support::{cluster, proxy_tls, Ca, Files, APP};
use token_support::*;
use tokio_postgres::NoTls;

/// token_auth = "required": only a token logs it in.
const REQUIRED: &str = "tok_req";
const REQUIRED_PW: &str = "tok-req-secret-pw";
/// token_auth = "optional": the password or a token.
const OPTIONAL: &str = "tok_opt";
const OPTIONAL_PW: &str = "tok-opt-secret-pw";

const IDP: &str = "https://idp.test";
const IDP_AUDIENCE: &str = "sluice-db";
const ETL: &str = "system:serviceaccount:jobs:etl";

/// Sluice with TLS for clients, its own signing key, and `IDP` (keys in a JWKS file) trusted;
/// `extra` adds tables (another issuer).
struct Side {
    ca: Ca,
    files: Files,
    config_path: PathBuf,
    config: Config,
    idp_key: IdpKey,
    /// Also in the issuer's key set: tokens may be RS256 as well.
    idp_rsa_key: IdpKey,
    addr: std::net::SocketAddr,
    shutdown: ShutdownHandle,
    reload: ReloadHandle,
    _pg: PgCluster,
}

impl Drop for Side {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

async fn side(extra: &str) -> Side {
    let ca = Ca::new("Sluice token test CA");
    let files = Files::new();
    let issued = ca.issue(&["localhost", "127.0.0.1"]);
    let cert = files.write("sluice.crt", &issued.cert_pem);
    let key = files.write("sluice.key", &issued.key_pem);
    let signing_key = files.write("token-signing.pem", &signing_key_pem());
    let idp_key = IdpKey::es256("es-1");
    let idp_rsa_key = IdpKey::rs256("rs-1");
    let jwks_file = files.write("idp-jwks.json", &jwks(&[&idp_key, &idp_rsa_key]));
    let pg = cluster(HbaAuth::ScramSha256, None).await;
    pg.create_user(REQUIRED, REQUIRED_PW).await.unwrap();
    pg.create_user(OPTIONAL, OPTIONAL_PW).await.unwrap();
    let toml = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
shutdown_timeout = "1s"

[database]
hosts = ["{host}"]
probe_interval = "200ms"
max_connections = 5

[[users]]
name = "{APP}"
password = "{app_pw}"

[[users]]
name = "{REQUIRED}"
password = "{REQUIRED_PW}"
token_auth = "required"

[[users]]
name = "{OPTIONAL}"
password = "{OPTIONAL_PW}"
token_auth = "optional"

[log]
filter = "warn"

{tls}
[tokens]
signing_key_file = "{signing_key}"
skew = "1s"

[[token_issuers]]
issuer = "{IDP}"
audience = "{IDP_AUDIENCE}"
jwks_file = "{jwks_file}"
users = {{ "{ETL}" = ["{REQUIRED}"], "*" = ["*"] }}
{extra}
"#,
        host = pg.addr(),
        app_pw = tls_support::APP_PASSWORD,
        tls = proxy_tls(&cert, &key, false),
        signing_key = signing_key.display(),
        jwks_file = jwks_file.display(),
    );
    let config_path = files.write("sluice.toml", &toml);
    let config = Config::load(&config_path).unwrap();
    let proxy = Proxy::bind(config.clone()).await.unwrap();
    let (addr, shutdown) = (proxy.local_addr(), proxy.shutdown_handle());
    let reload = proxy.reload_handle();
    proxy.set_config_path(config_path.clone());
    tokio::spawn(proxy.run());
    Side {
        ca,
        files,
        config_path,
        config,
        idp_key,
        idp_rsa_key,
        addr,
        shutdown,
        reload,
        _pg: pg,
    }
}

impl Side {
    /// tokio-postgres over rustls (sslmode=require), `password` being a token or a password.
    async fn tls_client(
        &self,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_support::client_config(
            self.ca.roots(),
            &[],
        ));
        let mut cfg = self.conn_config(user, password);
        cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
        let (client, conn) = cfg.connect(tls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    async fn plain_client(
        &self,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut cfg = self.conn_config(user, password);
        cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, conn) = cfg.connect(NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    fn conn_config(&self, user: &str, password: &str) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("localhost")
            .hostaddr(self.addr.ip())
            .port(self.addr.port())
            .user(user)
            .password(password)
            .dbname(APP)
            .connect_timeout(Duration::from_secs(10));
        cfg
    }

    /// psql with PGPASSWORD = `password`, sslmode=require, on the blocking pool.
    async fn psql(&self, user: &str, password: &str) -> std::process::Output {
        let sql = "SELECT current_user";
        tls_support::psql(self.addr, user, password, "sslmode=require", sql).await
    }

    /// `sluice token` run as the real binary with this side's config file.
    fn cli_token(&self, user: &str, ttl: &str) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("--config")
            .arg(&self.config_path)
            .args(["token", "--user", user, "--ttl", ttl])
            .output()
            .unwrap()
    }

    fn own_token(&self, user: &str, ttl: Duration) -> String {
        sluice::tokens::issue_token(&self.config, user, ttl)
            .unwrap()
            .expose()
            .to_owned()
    }
}

async fn current_user(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0)
}

/// Sluice's FATAL for a refused login: SQLSTATE, message, and never the token.
async fn assert_refused(
    result: Result<tokio_postgres::Client, tokio_postgres::Error>,
    code: &str,
    message: &str,
    token: &str,
) {
    let Err(e) = result else {
        panic!("the login should be refused");
    };
    let (got_code, got_message) = tls_support::db_error(&e);
    assert_eq!(got_code, code, "{got_message}");
    assert!(
        got_message.contains(message),
        "expected {message:?} in {got_message:?}"
    );
    assert!(
        !got_message.contains(token),
        "the token leaked: {got_message}"
    );
}

#[tokio::test]
async fn self_issued_tokens_from_the_cli_and_the_library() {
    let side = side("").await;

    let out = side.cli_token(REQUIRED, "5m");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let out = side.psql(REQUIRED, &token).await;
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), REQUIRED);

    let client = side.tls_client(REQUIRED, &token).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    let token = side.own_token(OPTIONAL, Duration::from_secs(300));
    let client = side.tls_client(OPTIONAL, &token).await.unwrap();
    assert_eq!(current_user(&client).await, OPTIONAL);

    // The CLI refuses users Sluice would not accept a token for, and says why.
    let out = side.cli_token(APP, "5m");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token_auth = \"disabled\""), "{stderr}");
    let out = side.cli_token("nobody", "5m");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown user \"nobody\""));
}

#[tokio::test]
async fn sluice_check_reads_the_key_files() {
    let side = side("").await;
    let check = |config: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("--config")
            .arg(config)
            .arg("check")
            .output()
            .unwrap()
    };
    let out = check(&side.config_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A signing key file that holds something else is named, and not quoted.
    let toml = std::fs::read_to_string(&side.config_path).unwrap();
    let not_a_key = side.files.write(
        "not-a-key.pem",
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
    );
    let signing = side.config.tokens.signing_key_file.clone().unwrap();
    let broken = side.files.write(
        "broken.toml",
        &toml.replace(
            &signing.display().to_string(),
            &not_a_key.display().to_string(),
        ),
    );
    let out = check(&broken);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tokens.signing_key_file"), "{stderr}");
    assert!(
        stderr.contains("openssl genpkey -algorithm ed25519"),
        "{stderr}"
    );
    assert!(!stderr.contains("c2VjcmV0"), "{stderr}");
}

#[tokio::test]
async fn oidc_tokens_checked_against_a_jwks_file() {
    let side = side("").await;
    let etl = side.idp_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));

    let out = side.psql(REQUIRED, &etl).await;
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), REQUIRED);

    let client = side.tls_client(REQUIRED, &etl).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    // The same issuer's RSA key (RS256), chosen by kid.
    let rsa = side.idp_rsa_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let client = side.tls_client(REQUIRED, &rsa).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    // "*" = ["*"]: a subject may log in as the user of the same name.
    let same_name = side.idp_key.sign(&claims(IDP, IDP_AUDIENCE, OPTIONAL));
    let client = side.tls_client(OPTIONAL, &same_name).await.unwrap();
    assert_eq!(current_user(&client).await, OPTIONAL);

    // An audience list in the token is fine when it holds ours.
    let mut listed = claims(IDP, IDP_AUDIENCE, ETL);
    listed["aud"] = json!(["https://kubernetes.default.svc", IDP_AUDIENCE]);
    let client = side
        .tls_client(REQUIRED, &side.idp_key.sign(&listed))
        .await
        .unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_failed_check() {
    let side = side("").await;
    let key = &side.idp_key;
    let with = |change: serde_json::Value| {
        let mut c = claims(IDP, IDP_AUDIENCE, ETL);
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        key.sign(&c)
    };
    let expired = with(json!({ "exp": now() - 120 }));
    let not_yet = with(json!({ "nbf": now() + 120 }));
    let wrong_issuer = with(json!({ "iss": "https://elsewhere.test" }));
    let wrong_audience = with(json!({ "aud": "another-service" }));
    let tampered = tampered(&with(json!({})), OPTIONAL);
    let other_key = IdpKey::es256("es-1").sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let unknown_kid = IdpKey::es256("es-2").sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let cases: [(&str, &str, &str); 9] = [
        (&expired, REQUIRED, "the token has expired"),
        (&not_yet, REQUIRED, "the token is not valid yet (nbf)"),
        (&tampered, OPTIONAL, "the token's signature is invalid"),
        (&other_key, REQUIRED, "the token's signature is invalid"),
        (
            &unknown_kid,
            REQUIRED,
            "no key of the issuer matches the token",
        ),
        (
            &wrong_issuer,
            REQUIRED,
            "the token's issuer \"https://elsewhere.test\" is not trusted",
        ),
        (
            &wrong_audience,
            REQUIRED,
            "the token is for another audience",
        ),
        // ETL maps to tok_req only.
        (
            &with(json!({})),
            OPTIONAL,
            "the token's sub may not log in as this user",
        ),
        (
            &side.own_token(OPTIONAL, Duration::from_secs(300)),
            REQUIRED,
            "the token's sub may not log in as this user",
        ),
    ];
    for (token, user, message) in cases {
        let expected = format!("token authentication failed for user \"{user}\": {message}");
        assert_refused(
            side.tls_client(user, token).await,
            "28000",
            &expected,
            token,
        )
        .await;
    }

    // libpq shows the same FATAL.
    let out = side.psql(REQUIRED, &expired).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the token has expired"), "{stderr}");
    assert!(!stderr.contains(&expired));
}

#[tokio::test]
async fn required_and_optional_token_auth_over_tls_and_plaintext() {
    let side = side("").await;
    let etl = side.idp_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let own = side.own_token(OPTIONAL, Duration::from_secs(300));

    // required: the password is refused, even the right one.
    assert_refused(
        side.tls_client(REQUIRED, REQUIRED_PW).await,
        "28000",
        "the password is not a token, and token_auth is \"required\" for this user",
        REQUIRED_PW,
    )
    .await;
    // required over plaintext: refused before anything is sent.
    assert_refused(
        side.plain_client(REQUIRED, &etl).await,
        "28000",
        "token authentication for user \"tok_req\" requires TLS",
        &etl,
    )
    .await;

    // optional over TLS: the password or a token.
    let client = side.tls_client(OPTIONAL, OPTIONAL_PW).await.unwrap();
    assert_eq!(current_user(&client).await, OPTIONAL);
    let client = side.tls_client(OPTIONAL, &own).await.unwrap();
    assert_eq!(current_user(&client).await, OPTIONAL);
    let e = side.tls_client(OPTIONAL, "wrong").await.err().unwrap();
    assert_eq!(tls_support::db_error(&e).0, "28P01");

    // optional over plaintext: SCRAM with the password works; a token cannot be sent.
    let client = side.plain_client(OPTIONAL, OPTIONAL_PW).await.unwrap();
    assert_eq!(current_user(&client).await, OPTIONAL);
    let e = side.plain_client(OPTIONAL, &own).await.err().unwrap();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "28P01");
    assert!(
        db.hint().unwrap_or_default().contains("only over TLS"),
        "{:?}",
        db.hint()
    );

    // Users without token_auth keep SCRAM over TLS: a token is just a wrong password.
    let e = side.tls_client(APP, &own).await.err().unwrap();
    assert_eq!(tls_support::db_error(&e).0, "28P01");
}

#[tokio::test]
async fn jwks_url_is_fetched_and_refreshed() {
    let first = IdpKey::ed25519("ed-1");
    let rotated = IdpKey::ed25519("ed-2");
    let server = JwksServer::start(jwks(&[&first])).await;
    let ci = server.url();
    let issuer = format!(
        "[[token_issuers]]\nissuer = \"https://ci.test\"\naudience = \"sluice\"\n\
         jwks_url = \"{ci}\"\njwks_refresh = \"1s\"\nclaim = \"job\"\n\
         users = {{ \"deploy\" = [\"{REQUIRED}\"] }}\n"
    );
    let side = side(&issuer).await;
    assert!(server.requests() >= 1, "fetched at startup");
    let ci_claims = |sub: &str| {
        let mut c = claims("https://ci.test", "sluice", sub);
        c["job"] = json!("deploy");
        c
    };

    let client = side
        .tls_client(REQUIRED, &first.sign(&ci_claims("run-1")))
        .await
        .unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    // A key the server does not publish yet.
    let next = rotated.sign(&ci_claims("run-2"));
    assert_refused(
        side.tls_client(REQUIRED, &next).await,
        "28000",
        "no key of the issuer matches the token",
        &next,
    )
    .await;

    // The provider rotates; within a refresh Sluice knows the new key.
    server.serve(jwks(&[&rotated]));
    let mut accepted = false;
    for _ in 0..50 {
        if side.tls_client(REQUIRED, &next).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "the rotated key was never picked up");
    // And the retired key no longer works.
    let old = first.sign(&ci_claims("run-3"));
    assert_refused(
        side.tls_client(REQUIRED, &old).await,
        "28000",
        "no key of the issuer matches the token",
        &old,
    )
    .await;

    // The claim mapping uses the configured claim ("job"), not sub.
    let mut other_job = ci_claims("run-4");
    other_job["job"] = json!("nightly");
    let other_job = rotated.sign(&other_job);
    assert_refused(
        side.tls_client(REQUIRED, &other_job).await,
        "28000",
        "the token's job may not log in as this user",
        &other_job,
    )
    .await;
}

#[tokio::test]
async fn a_session_outlives_its_token() {
    let side = side("").await;
    // skew is 1s here: a 2s token is refused from about 3s on.
    let token = side.own_token(REQUIRED, Duration::from_secs(2));
    let client = side.tls_client(REQUIRED, &token).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_refused(
        side.tls_client(REQUIRED, &token).await,
        "28000",
        "the token has expired",
        &token,
    )
    .await;
    // The session that logged in with it carries on, across transactions.
    assert_eq!(current_user(&client).await, REQUIRED);
    let row = client.query_one("SELECT 40 + 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
}

/// Everything logged on this thread (the test runtime's, which runs Sluice's tasks too).
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_never_reach_the_log() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let side = side("").await;
    let good = side.idp_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let mut expired = claims(IDP, IDP_AUDIENCE, ETL);
    expired["exp"] = json!(now() - 120);
    let expired = side.idp_key.sign(&expired);
    let client = side.tls_client(REQUIRED, &good).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);
    drop(client);
    assert!(side.tls_client(REQUIRED, &expired).await.is_err());
    assert!(side.tls_client(REQUIRED, REQUIRED_PW).await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("the token has expired"),
        "the refusal is logged with its reason"
    );
    assert!(
        text.contains("token accepted") && text.contains(ETL),
        "the accepted login is logged with the workload it names"
    );
    for secret in [good.as_str(), expired.as_str(), REQUIRED_PW] {
        assert!(!text.contains(secret), "a credential reached the log");
    }
    // Nor any of the token's three parts on its own (the signature is the secret part).
    for part in good.split('.') {
        assert!(!text.contains(part));
    }
}

/// Keys rotated in place take effect on a reload: the issuer's new JWKS file and Sluice's new
/// signing key are trusted, tokens signed with the old keys are refused, and a session that
/// logged in with an old token carries on.
#[tokio::test]
async fn a_reload_rotates_token_keys_in_place() {
    let side = side("").await;
    let old_idp = side.idp_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let old_own = side.own_token(REQUIRED, Duration::from_secs(300));
    let session = side.tls_client(REQUIRED, &old_idp).await.unwrap();
    side.tls_client(REQUIRED, &old_own).await.unwrap();

    let new_idp_key = IdpKey::es256("es-2");
    side.files
        .write("idp-jwks.json", &jwks(&[&new_idp_key, &side.idp_rsa_key]));
    side.files.write("token-signing.pem", &signing_key_pem());
    let kept = side.reload.reload_file().await.unwrap();
    assert!(kept.is_empty(), "{kept:?}");

    let new_idp = new_idp_key.sign(&claims(IDP, IDP_AUDIENCE, ETL));
    let client = side.tls_client(REQUIRED, &new_idp).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);
    let new_own = side.own_token(REQUIRED, Duration::from_secs(300));
    let client = side.tls_client(REQUIRED, &new_own).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);

    let refused = side.tls_client(REQUIRED, &old_idp).await;
    assert_refused(refused, "28000", "no key of the issuer matches", &old_idp).await;
    let refused = side.tls_client(REQUIRED, &old_own).await;
    assert_refused(refused, "28000", "signature is invalid", &old_own).await;
    assert_eq!(current_user(&session).await, REQUIRED);

    // A key file that no longer loads refuses the reload; the keys in use stay.
    side.files.write("token-signing.pem", "not a key");
    let err = side.reload.reload_file().await.unwrap_err();
    assert!(format!("{err:#}").contains("token"), "{err:#}");
    let client = side.tls_client(REQUIRED, &new_idp).await.unwrap();
    assert_eq!(current_user(&client).await, REQUIRED);
}
