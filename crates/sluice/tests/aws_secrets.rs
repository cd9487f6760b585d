//! `aws:` secrets against a real moto server (a local AWS Secrets Manager look-alike): logging
//! in both ways, startup errors that say what failed, and the AWS rotation sequence under
//! pgbench with no failed transaction.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::binary::{free_port, SluiceProcess};
use common::load::{assert_no_failures, init_pgbench, pgbench};
use common::moto::{fake_credentials_env, use_fake_credentials, Moto, REGION};
use common::rotation::{alter_role, assert_both_passwords_work, assert_rotated, NEW_PASSWORD};
use common::{startup_error, Fixture, Options, APP, APP_PASSWORD};

const SECRET_NAME: &str = "prod/app/db";

/// An RDS-style secret for `app`.
fn rds_json(password: &str) -> String {
    format!(
        r#"{{"engine":"postgres","host":"db.example","port":5432,"dbname":"app","username":"{APP}","password":"{password}"}}"#
    )
}

async fn query_as_app(fx: &Fixture, password: &str) -> Result<String, tokio_postgres::Error> {
    let client = fx.try_client(APP, password).await?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_secret_logs_in_both_ways() {
    use_fake_credentials();
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(SECRET_NAME, &rds_json(APP_PASSWORD))
        .await;
    // By ARN here; by name everywhere else.
    let fx = Fixture::start_with(Options {
        app_secret: Some(format!("aws:{arn}")),
        extra_config: format!("[secrets]\n{}", moto.secrets_config()),
        ..Default::default()
    })
    .await;
    // The query needs a server connection: Sluice logged in to PostgreSQL with the secret.
    assert_eq!(query_as_app(&fx, APP_PASSWORD).await.unwrap(), APP);
    let wrong = query_as_app(&fx, "nope").await.unwrap_err();
    assert_eq!(common::sqlstate(&wrong).as_deref(), Some("28P01"));
}

#[tokio::test]
async fn startup_errors_say_what_failed() {
    use_fake_credentials();
    let moto = Moto::start().await;
    let missing = startup_error("aws:prod/missing", &moto.secrets_config()).await;
    assert_eq!(
        missing,
        format!(
            "user \"app\": secret aws:prod/missing: AWS Secrets Manager at {} has no secret by \
             that name or ARN (ResourceNotFoundException): check the name and the region",
            moto.url
        )
    );
    let closed = format!("http://127.0.0.1:{}", free_port());
    let unreachable = startup_error(
        "aws:prod/app",
        &format!(
            "aws_region = \"{REGION}\"\naws_endpoint_url = \"{closed}\"\naws_timeout = \"20s\""
        ),
    )
    .await;
    let want = format!(
        "user \"app\": secret aws:prod/app: cannot reach AWS Secrets Manager at {closed}: "
    );
    assert!(unreachable.starts_with(&want), "{unreachable}");
}

/// Through the binary, so each Sluice has its own credentials in its environment. Fetching
/// comes before anything else, so no database is needed.
async fn binary_startup_error(moto: &Moto, env: &[(&str, &str)]) -> String {
    let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "[proxy]\nlisten = \"{addr}\"\n[database]\nhosts = [\"127.0.0.1:9\"]\n[secrets]\n{}\n\
         [[users]]\nname = \"{APP}\"\nsecret = \"aws:{SECRET_NAME}\"\n",
        moto.secrets_config()
    );
    match SluiceProcess::start(&config, addr, "info", env).await {
        Ok(_) => panic!("Sluice started without access to the secret"),
        Err(log) => log,
    }
}

#[tokio::test]
async fn access_errors_stop_startup_and_say_why() {
    use_fake_credentials();
    let moto = Moto::start().await;
    moto.create_secret(SECRET_NAME, &rds_json(APP_PASSWORD))
        .await;
    let other_secrets_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":"secretsmanager:GetSecretValue",
        "Resource":"arn:aws:secretsmanager:*:*:secret:other/*"}]}"#;
    let (key_id, key_secret) = moto.iam_user("reader", other_secrets_only);
    moto.enforce_iam().await;
    let mut env = fake_credentials_env().to_vec();
    env[0].1 = &key_id;
    env[1].1 = &key_secret;
    let denied = binary_startup_error(&moto, &env).await;
    // The fake key is no IAM user's.
    let unknown = binary_startup_error(&moto, &fake_credentials_env()).await;
    // moto answers both in IAM's XML, without the error code AWS sends in JSON, so Sluice goes
    // by the status (the unit tests cover the codes).
    let want = format!(
        "sluice: user \"app\": secret aws:{SECRET_NAME}: access denied (HTTP 403, no error code): \
         the AWS credentials were rejected, or the identity lacks secretsmanager:GetSecretValue \
         on this secret"
    );
    // No credentials anywhere (empty variables count as unset).
    let mut none = fake_credentials_env().to_vec();
    none[0].1 = "";
    none[1].1 = "";
    let missing = binary_startup_error(&moto, &none).await;
    let want_missing =
        format!("user \"app\": secret aws:{SECRET_NAME}: the request was not sent: ");
    assert!(missing.contains(&want_missing), "{missing}");
    assert!(missing.contains("no credentials found"), "{missing}");
    for log in [&denied, &unknown, &missing] {
        assert!(!log.contains(APP_PASSWORD), "the secret leaked: {log}");
        assert!(!log.contains(&key_secret), "the AWS key leaked: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }
    for log in [&denied, &unknown] {
        assert!(log.contains(&want), "{log}");
    }
}

/// Secrets Manager's rotation, as the RDS rotation function runs it: createSecret puts the new
/// password as AWSPENDING, setSecret changes it in the database, finishSecret moves AWSCURRENT
/// to it (the old version becomes AWSPREVIOUS). Server logins never wait: a version that works
/// is known at every step; clients may use either password while the rotation is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_rotation_under_load_fails_no_transaction() {
    use_fake_credentials();
    let moto = Moto::start().await;
    moto.create_secret(SECRET_NAME, &rds_json(APP_PASSWORD))
        .await;
    let fx = Fixture::start_with(common::rotation::options(
        format!("aws:{SECRET_NAME}"),
        &moto.secrets_config(),
    ))
    .await;
    init_pgbench(fx.addr);
    let aws = moto.client();
    let run = pgbench(fx.addr, 6);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // createSecret
    let pending = moto.put_pending(SECRET_NAME, &rds_json(NEW_PASSWORD)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_both_passwords_work(&fx).await;
    // setSecret
    let since = alter_role(&fx, NEW_PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // finishSecret
    let versions = aws
        .list_secret_version_ids()
        .secret_id(SECRET_NAME)
        .send()
        .await
        .unwrap();
    let current = versions
        .versions()
        .iter()
        .find(|v| v.version_stages().iter().any(|s| s == "AWSCURRENT"))
        .and_then(|v| v.version_id())
        .unwrap();
    aws.update_secret_version_stage()
        .secret_id(SECRET_NAME)
        .version_stage("AWSCURRENT")
        .move_to_version_id(pending)
        .remove_from_version_id(current)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_no_failures(&run.await.unwrap());
    assert_rotated(&fx, since).await;
}

/// The SDK logs requests and responses at trace level: neither a password from Secrets Manager
/// nor the AWS secret key may reach the log, through a startup fetch, a refresh that finds a
/// pending version, and logins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_at_trace_level() {
    use_fake_credentials();
    let pg = test_support::PgCluster::start().await.unwrap();
    pg.create_user(APP, APP_PASSWORD).await.unwrap();
    pg.create_database(APP, APP).await.unwrap();
    let moto = Moto::start().await;
    moto.create_secret(SECRET_NAME, &rds_json(APP_PASSWORD))
        .await;
    let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "[proxy]\nlisten = \"{addr}\"\n[database]\nhosts = [\"{}\"]\n\
         [secrets]\nrefresh_interval = \"1s\"\n{}\n\
         [[users]]\nname = \"{APP}\"\nsecret = \"aws:{SECRET_NAME}\"\n",
        pg.addr(),
        moto.secrets_config()
    );
    let sluice = SluiceProcess::start(&config, addr, "trace", &fake_credentials_env())
        .await
        .unwrap();
    let login = |password: &str| {
        let connstr = sluice.connstr(APP, password, APP);
        async move {
            let (client, conn) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            client.simple_query("SELECT 1").await.map(drop)
        }
    };
    login(APP_PASSWORD).await.unwrap();
    moto.put_pending(SECRET_NAME, &rds_json(NEW_PASSWORD)).await;
    let pending_accepted = common::eventually(Duration::from_secs(5), || async {
        login(NEW_PASSWORD).await.is_ok()
    })
    .await;
    assert!(pending_accepted, "the pending password never logged in");
    let log = sluice.log();
    assert!(log.contains("GetSecretValue"), "no SDK trace in the log");
    for secret in [APP_PASSWORD, NEW_PASSWORD, common::moto::SECRET_ACCESS_KEY] {
        assert!(!log.contains(secret), "{secret} is in the log");
    }
}
