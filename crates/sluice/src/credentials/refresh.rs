//! The periodic refresh: every `[secrets] refresh_interval`, each user's secret is fetched again.

use std::sync::Arc;
use std::time::Duration;

use super::Credentials;

/// Runs forever; a failed fetch is logged and the previous credentials stay.
pub async fn refresh_every(interval: Duration, users: impl Fn() -> Vec<Arc<Credentials>>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; startup has just fetched everything
    loop {
        tick.tick().await;
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
