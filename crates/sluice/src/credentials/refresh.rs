//! The periodic refresh: every `[secrets] refresh_interval`, each user's secret is fetched again.
//! The interval is read again each round, so a reload can change it or switch it on or off.

use std::sync::Arc;
use std::time::Duration;

use super::Credentials;

/// While the refresh is switched off, how often to look at the interval again.
const SWITCHED_OFF_CHECK: Duration = Duration::from_secs(1);

/// Runs forever; a failed fetch is logged and the previous credentials stay. Startup has just
/// fetched everything, so the first round waits a whole interval.
pub async fn refresh_every(
    interval: impl Fn() -> Option<Duration>,
    users: impl Fn() -> Vec<Arc<Credentials>>,
) {
    let mut last = tokio::time::Instant::now();
    loop {
        let every = interval();
        tokio::time::sleep_until(last + every.unwrap_or(SWITCHED_OFF_CHECK)).await;
        last = tokio::time::Instant::now();
        if every.is_none() || interval().is_none() {
            continue;
        }
        // Asked every time: a reload may have added or replaced users.
        for creds in &users() {
            let Some(source) = creds.source() else {
                continue;
            };
            if let Err(problem) = creds.refresh().await {
                tracing::warn!(user = %creds.user_name(), %source, %problem, "could not refresh the secret; keeping the previous credentials");
            }
        }
    }
}
