//! Every open server connection, by writer generation, so that when the writer changes the
//! connections to the old one can be cut even while lent: their transactions then fail at once
//! (as they would if the server died) instead of hanging on a frozen or demoted host.
//!
//! Each entry holds a duplicate of the socket's file descriptor; shutting it down ends reads and
//! writes on the original, which the relay sees as a lost server.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;

#[derive(Debug, Default)]
pub struct LiveConnections {
    next_id: AtomicU64,
    // std Mutex: insert on connect, remove on close, a scan on writer change.
    conns: Mutex<HashMap<u64, (u64, OwnedFd)>>,
}

/// Removes the connection from the registry when the connection is dropped.
#[derive(Debug)]
pub struct LiveGuard {
    registry: Arc<LiveConnections>,
    id: u64,
}

impl LiveConnections {
    /// Registers a connection opened under writer `generation`. None if the descriptor could
    /// not be duplicated (out of descriptors): the connection then just cannot be cut early.
    pub fn register(self: &Arc<Self>, stream: &TcpStream, generation: u64) -> Option<LiveGuard> {
        let fd = stream.as_fd().try_clone_to_owned().ok()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (generation, fd));
        Some(LiveGuard {
            registry: self.clone(),
            id,
        })
    }

    /// Shuts down every connection opened under an older generation; returns how many.
    pub fn cut_older_than(&self, generation: u64) -> usize {
        let old: Vec<OwnedFd> = {
            let mut conns = self.lock();
            let ids: Vec<u64> = conns
                .iter()
                .filter(|(_, (g, _))| *g < generation)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| conns.remove(id))
                .map(|(_, fd)| fd)
                .collect()
        };
        for fd in &old {
            let _ = socket2::SockRef::from(fd).shutdown(std::net::Shutdown::Both);
        }
        old.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, OwnedFd)>> {
        self.conns
            .lock()
            .expect("live connections lock is never poisoned")
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let removed = self.registry.lock().remove(&self.id);
        drop(removed);
    }
}
