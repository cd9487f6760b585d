//! Cancel routing. Each client gets Sluice's own random BackendKeyData; a CancelRequest with
//! that key is forwarded to the server connection currently running that client's work, and to
//! nothing else.
//!
//! Accepted race (as in PgBouncer and in PostgreSQL itself): a cancel that arrives just as the
//! client's query finishes may reach the server after it started the next transaction on that
//! connection. Sluice clears the route before returning a connection to the pool, so a cancel
//! can only be sent while the connection is still lent to that client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use pgwire::CancelKey;

/// Where a client's cancel goes right now.
#[derive(Debug, Clone, Copy)]
pub struct ServerRoute {
    pub addr: SocketAddr,
    pub key: CancelKey,
}

/// One client's current route, updated at every borrow and return.
#[derive(Debug, Default)]
pub struct CancelRoute {
    // std Mutex: a copy in or out, never held across an await.
    current: Mutex<Option<ServerRoute>>,
}

impl CancelRoute {
    pub fn set(&self, route: Option<ServerRoute>) {
        *self
            .current
            .lock()
            .expect("cancel route lock is never poisoned") = route;
    }

    pub fn get(&self) -> Option<ServerRoute> {
        *self
            .current
            .lock()
            .expect("cancel route lock is never poisoned")
    }
}

#[derive(Debug, Default)]
pub struct CancelRegistry {
    // std Mutex: insert/remove/lookup only; contention is one lock per login and logout.
    routes: Mutex<HashMap<CancelKey, Arc<CancelRoute>>>,
}

impl CancelRegistry {
    /// Registers a new client under a fresh random key; the returned guard unregisters it.
    pub fn register(self: &Arc<Self>) -> Registration {
        let route = Arc::new(CancelRoute::default());
        let mut routes = self
            .routes
            .lock()
            .expect("cancel registry lock is never poisoned");
        let key = loop {
            let key = CancelKey {
                process_id: rand::random::<i32>() & i32::MAX,
                secret: rand::random(),
            };
            if !routes.contains_key(&key) {
                break key;
            }
        };
        routes.insert(key, route.clone());
        Registration {
            registry: self.clone(),
            key,
            route,
        }
    }

    pub fn lookup(&self, key: &CancelKey) -> Option<ServerRoute> {
        let routes = self
            .routes
            .lock()
            .expect("cancel registry lock is never poisoned");
        routes.get(key).and_then(|r| r.get())
    }
}

/// A client's entry in the registry, removed when the client's session ends.
pub struct Registration {
    registry: Arc<CancelRegistry>,
    pub key: CancelKey,
    pub route: Arc<CancelRoute>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.registry.routes.lock() {
            routes.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_only_registered_keys_with_a_server() {
        let registry = Arc::new(CancelRegistry::default());
        let reg = registry.register();
        assert!(registry.lookup(&reg.key).is_none());
        let route = ServerRoute {
            addr: "127.0.0.1:5432".parse().unwrap(),
            key: CancelKey {
                process_id: 1,
                secret: 2,
            },
        };
        reg.route.set(Some(route));
        assert_eq!(registry.lookup(&reg.key).unwrap().key, route.key);
        let wrong = CancelKey {
            process_id: reg.key.process_id,
            secret: reg.key.secret ^ 1,
        };
        assert!(registry.lookup(&wrong).is_none());
        let key = reg.key;
        drop(reg);
        assert!(registry.lookup(&key).is_none());
    }
}
