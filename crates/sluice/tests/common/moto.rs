//! A moto server (a local AWS look-alike) on a free loopback port, for `aws:` secrets, and a
//! Secrets Manager client to set secrets up with.

use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::Client;

use super::binary::free_port;

pub const REGION: &str = "us-east-1";

/// Fake credentials: moto accepts any until [`Moto::enforce_iam`].
pub const ACCESS_KEY_ID: &str = "AKIAMOTOTESTKEY00000";
pub const SECRET_ACCESS_KEY: &str = "moto-test-secret-key";

pub struct Moto {
    child: Child,
    pub url: String,
}

/// Sets the fake credentials in this process's environment, where an in-process Sluice's SDK
/// finds them. Call it first thing in every test of the binary: the variables are set once,
/// before any thread reads the environment. No profile files, no instance metadata.
pub fn use_fake_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (key, value) in fake_credentials_env() {
            std::env::set_var(key, value);
        }
    });
}

/// The variables [`use_fake_credentials`] sets, for a child process.
pub fn fake_credentials_env() -> [(&'static str, &'static str); 5] {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        ),
    ]
}

impl Moto {
    /// Starts moto's server (`scripts/install-deps.sh` installs it) and waits until it answers.
    pub async fn start() -> Moto {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs: pip install 'moto[server]' (scripts/install-deps.sh)");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let dashboard = format!("{}/moto-api/data.json", moto.url);
        for _ in 0..300 {
            if reqwest::get(&dashboard)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not answer on port {port} within 15s");
    }

    /// `[secrets]` lines that point Sluice at this server.
    pub fn secrets_config(&self) -> String {
        format!(
            "aws_region = \"{REGION}\"\naws_endpoint_url = \"{}\"\naws_timeout = \"10s\"\n",
            self.url
        )
    }

    /// A client with the fake credentials, for setting secrets up.
    pub fn client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "moto",
            ))
            .http_client(http)
            .build();
        Client::from_conf(config)
    }

    /// Creates secret `name` holding `json`; returns its ARN.
    pub async fn create_secret(&self, name: &str, json: &str) -> String {
        let out = self
            .client()
            .create_secret()
            .name(name)
            .secret_string(json)
            .send()
            .await
            .unwrap();
        out.arn().unwrap().to_owned()
    }

    /// Adds a version of secret `name` holding `json`, staged AWSPENDING (a rotation's
    /// createSecret step); returns its version id.
    pub async fn put_pending(&self, name: &str, json: &str) -> String {
        let out = self
            .client()
            .put_secret_value()
            .secret_id(name)
            .secret_string(json)
            .version_stages("AWSPENDING")
            .send()
            .await
            .unwrap();
        out.version_id().unwrap().to_owned()
    }

    /// From now on every request must be signed by a known IAM user and allowed by its
    /// policies (moto trusts everyone until then).
    pub async fn enforce_iam(&self) {
        let reply = reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.url))
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{reply:?}");
    }

    /// An IAM user allowed only what `policy` (a JSON policy document) allows; returns its
    /// access key id and secret. Made with boto3, which moto brings along.
    pub fn iam_user(&self, name: &str, policy: &str) -> (String, String) {
        let script = r#"
import sys, boto3
url, name, policy = sys.argv[1:4]
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x")
iam.create_user(UserName=name)
iam.put_user_policy(UserName=name, PolicyName="sluice-test", PolicyDocument=policy)
key = iam.create_access_key(UserName=name)["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
        let out = Command::new("python3")
            .args(["-c", script, &self.url, name, policy])
            .output()
            .unwrap();
        let stdout = super::succeeded(&out);
        let (id, secret) = stdout.trim().split_once(' ').unwrap();
        (id.to_owned(), secret.to_owned())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
