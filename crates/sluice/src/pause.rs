//! PAUSE and RESUME from the admin console: while paused, new transactions wait before
//! borrowing; running ones finish. The flag is read once per transaction with a relaxed load;
//! only paused sessions touch the watch channel.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

#[derive(Debug)]
pub struct PauseGate {
    paused: AtomicBool,
    changed: watch::Sender<bool>,
}

impl Default for PauseGate {
    fn default() -> Self {
        PauseGate {
            paused: AtomicBool::new(false),
            changed: watch::channel(false).0,
        }
    }
}

impl PauseGate {
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Returns whether the state changed.
    pub fn set(&self, paused: bool) -> bool {
        let was = self.paused.swap(paused, Ordering::Relaxed);
        self.changed.send_replace(paused);
        was != paused
    }

    /// Waits while paused.
    pub async fn wait_until_resumed(&self) {
        if !self.is_paused() {
            return;
        }
        let mut rx = self.changed.subscribe();
        // The sender lives as long as self, so this only ends when resumed.
        let _ = rx.wait_for(|paused| !paused).await;
    }
}
