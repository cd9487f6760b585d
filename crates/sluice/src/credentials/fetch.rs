//! Reading a secret from its store: a file, an environment variable, a command's output, or
//! AWS Secrets Manager.

use std::process::Stdio;
use std::time::Duration;

use config::SecretSource;
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

use super::{SecretStores, SecretValue};

/// A secret bigger than this is a mistake (a wrong file), not a secret.
const MAX_SECRET_BYTES: u64 = 64 << 10;

/// Fetches and parses the secret. The error names what failed, never the content.
pub async fn fetch(source: &SecretSource, stores: &SecretStores) -> Result<SecretValue, String> {
    match source {
        SecretSource::File(path) => {
            let text = read_file(path).await?;
            SecretValue::from_json(&text)
        }
        SecretSource::Env(var) => from_env(var),
        SecretSource::Exec(argv) => {
            let text = run(argv, stores.exec_timeout()).await?;
            SecretValue::from_json(&text)
        }
        SecretSource::Aws(id) => from_aws(id, stores).await,
    }
}

#[cfg(feature = "aws")]
async fn from_aws(id: &str, stores: &SecretStores) -> Result<SecretValue, String> {
    stores.aws().fetch(id).await
}

#[cfg(not(feature = "aws"))]
async fn from_aws(_id: &str, _stores: &SecretStores) -> Result<SecretValue, String> {
    Err(super::stores::WITHOUT_AWS.into())
}

async fn read_file(path: &std::path::Path) -> Result<Zeroizing<String>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open the file: {e}"))?;
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .await
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!("the file is larger than {MAX_SECRET_BYTES} bytes"));
    }
    Ok(text)
}

fn from_env(var: &str) -> Result<SecretValue, String> {
    match std::env::var(var) {
        Ok(text) => SecretValue::from_json_or_password(Zeroizing::new(text)),
        Err(std::env::VarError::NotPresent) => Err("the variable is not set".into()),
        Err(std::env::VarError::NotUnicode(_)) => Err("the variable is not UTF-8".into()),
    }
}

/// Runs the command without a shell; its stdout is the secret, its stderr goes to Sluice's
/// stderr as is (for the operator, never into a log line of ours), and it is killed at the
/// timeout.
async fn run(argv: &[String], timeout: Duration) -> Result<Zeroizing<String>, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run the command: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("the command has no stdout")?;
    let finished = async {
        let mut text = Zeroizing::new(String::new());
        let read = (&mut stdout)
            .take(MAX_SECRET_BYTES + 1)
            .read_to_string(&mut text)
            .await;
        let status = child.wait().await;
        (read, status, text)
    };
    let (read, status, text) = tokio::time::timeout(timeout, finished)
        .await
        .map_err(|_| format!("the command did not finish within exec_timeout ({timeout:?})"))?;
    let status = status.map_err(|e| format!("waiting for the command failed: {e}"))?;
    if !status.success() {
        return Err(format!("the command failed ({status})"));
    }
    read.map_err(|e| format!("cannot read the command's output: {e}"))?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "the command printed more than {MAX_SECRET_BYTES} bytes"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores(exec_timeout: Duration) -> SecretStores {
        SecretStores::new(&config::SecretsConfig {
            exec_timeout,
            ..Default::default()
        })
    }

    fn exec(script: &str) -> SecretSource {
        SecretSource::Exec(vec!["/bin/sh".into(), "-c".into(), script.into()])
    }

    #[tokio::test]
    async fn exec_prints_the_secret() {
        let v = fetch(
            &exec(r#"echo '{"password":"pw1"}'"#),
            &stores(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        assert_eq!(v.password.expose(), "pw1");
    }

    #[tokio::test]
    async fn exec_failures_are_named() {
        let failed = fetch(&exec("exit 3"), &stores(Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert_eq!(failed, "the command failed (exit status: 3)");
        let slow = fetch(&exec("exec sleep 5"), &stores(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(
            slow.starts_with("the command did not finish within exec_timeout"),
            "{slow}"
        );
        let missing = SecretSource::Exec(vec!["/nonexistent/fetch-secret".into()]);
        let err = fetch(&missing, &stores(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(err.starts_with("cannot run the command: "), "{err}");
        let garbage = fetch(&exec("echo hunter2"), &stores(Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(!garbage.contains("hunter2"), "{garbage}");
    }

    #[tokio::test]
    async fn file_errors_are_named() {
        let missing = SecretSource::File("/nonexistent/secret.json".into());
        let err = fetch(&missing, &stores(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(err.starts_with("cannot open the file: "), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\"password\": \"pw\"").unwrap();
        let err = fetch(&SecretSource::File(path), &stores(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(err.starts_with("is not valid JSON"), "{err}");
    }

    #[cfg(not(feature = "aws"))]
    #[tokio::test]
    async fn aws_needs_the_feature() {
        let source = SecretSource::Aws("prod/app".into());
        let err = fetch(&source, &stores(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert_eq!(err, super::super::stores::WITHOUT_AWS);
    }
}
