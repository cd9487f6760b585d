//! `max_client_connections`: one semaphore permit per connected client, refused (not queued)
//! when none is left. A reload may change the limit: a higher one adds permits at once; a lower
//! one takes permits back as clients leave, so nobody connected is dropped.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct ClientSlots {
    permits: Arc<Semaphore>,
    /// The limit the permits are (or are on their way to being) counted against.
    limit: Mutex<usize>,
}

impl ClientSlots {
    pub fn new(limit: usize) -> Self {
        ClientSlots {
            permits: Arc::new(Semaphore::new(limit)),
            limit: Mutex::new(limit),
        }
    }

    /// A slot for a new client, or `None` at the limit.
    pub fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Waits until every client has left (for the drain; bound it with a timeout).
    pub async fn all_free(&self) {
        let limit = *self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        let all = u32::try_from(limit).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }

    /// A reloaded `max_client_connections`. Permits taken back wait in the semaphore's queue,
    /// ahead of the drain, and get the slots of clients as they leave.
    pub fn set_limit(&self, new: usize) {
        let mut limit = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        if new > *limit {
            self.permits.add_permits(new - *limit);
        } else if new < *limit {
            let mut fewer = u32::try_from(*limit - new).unwrap_or(u32::MAX);
            // Free slots go now, so the next client already meets the lower limit.
            let free = u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX);
            if let Ok(taken) = self.permits.try_acquire_many(free.min(fewer)) {
                fewer -= taken.num_permits() as u32;
                taken.forget();
            }
            if fewer > 0 {
                let permits = self.permits.clone();
                tokio::spawn(async move {
                    if let Ok(taken) = permits.acquire_many_owned(fewer).await {
                        taken.forget();
                    }
                });
            }
        }
        *limit = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lower_limit_takes_effect_as_clients_leave() {
        let slots = ClientSlots::new(3);
        let held: Vec<_> = (0..3).map(|_| slots.try_take().unwrap()).collect();
        assert!(slots.try_take().is_none());
        slots.set_limit(1);
        drop(held);
        tokio::task::yield_now().await;
        let one = slots.try_take().expect("one slot is left");
        assert!(slots.try_take().is_none(), "the limit is 1 now");
        drop(one);
        slots.set_limit(2);
        let two = (slots.try_take(), slots.try_take());
        assert!(two.0.is_some() && two.1.is_some());
        assert!(slots.try_take().is_none());
    }
}
