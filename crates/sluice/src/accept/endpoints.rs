//! `[[endpoints]]` while running, by name. A reload may add endpoints (bound before anything
//! else changes, so an address in use refuses the reload) and remove them (they stop accepting;
//! their clients stay connected). An endpoint whose address or role changed keeps running as it
//! was until a restart: moving it in place would refuse connections for a moment.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use config::EndpointConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::serve_listener;
use crate::proxy::{bind_listener, Shared};
use crate::upstream::Route;

#[derive(Default)]
pub struct Endpoints {
    // std Mutex: changed at startup and by reloads, read by the admin interface and tests.
    running: Mutex<Vec<Running>>,
}

struct Running {
    config: EndpointConfig,
    addr: SocketAddr,
    /// Set to stop accepting (the endpoint was removed).
    stop: watch::Sender<bool>,
}

/// What a reload does to the endpoints, prepared (new ones bound) before it applies anything.
pub struct EndpointChanges {
    added: Vec<(EndpointConfig, TcpListener)>,
    removed: Vec<String>,
    /// The endpoints as they will run: `new`'s, with changed ones as they are now.
    pub configs: Vec<EndpointConfig>,
    /// Names of endpoints whose settings changed; they keep running as before.
    pub kept: Vec<String>,
}

impl Endpoints {
    /// Starts accepting on `listener` for `config`'s route.
    pub fn start(&self, shared: &Arc<Shared>, config: EndpointConfig, listener: TcpListener) {
        let route = Route::for_endpoint(&config);
        let addr = listener
            .local_addr()
            .expect("a bound listener has a local address");
        tracing::info!(endpoint = %config.name, listen = %addr, ?route, "accepting clients");
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve_listener(listener, shared.clone(), route, stopped));
        self.lock().push(Running { config, addr, stop });
    }

    /// Where each running endpoint listens, in the order they started.
    pub fn addrs(&self) -> Vec<(String, SocketAddr)> {
        let running = self.lock();
        running
            .iter()
            .map(|r| (r.config.name.clone(), r.addr))
            .collect()
    }

    /// Binds the endpoints `new` adds; nothing runs or stops yet.
    pub fn prepare(
        &self,
        new: &[EndpointConfig],
        reuse_port: bool,
    ) -> anyhow::Result<EndpointChanges> {
        let running = self.lock();
        let now = |name: &str| running.iter().find(|r| r.config.name == name);
        let mut changes = EndpointChanges {
            added: Vec::new(),
            removed: running
                .iter()
                .filter(|r| !new.iter().any(|n| n.name == r.config.name))
                .map(|r| r.config.name.clone())
                .collect(),
            configs: Vec::new(),
            kept: Vec::new(),
        };
        for endpoint in new {
            match now(&endpoint.name) {
                Some(r) if r.config == *endpoint => changes.configs.push(endpoint.clone()),
                Some(r) => {
                    changes.kept.push(endpoint.name.clone());
                    changes.configs.push(r.config.clone());
                }
                None => {
                    let listener =
                        bind_listener(endpoint.listen, reuse_port).with_context(|| {
                            format!(
                                "could not listen on {} for endpoint {:?}",
                                endpoint.listen, endpoint.name
                            )
                        })?;
                    changes.configs.push(endpoint.clone());
                    changes.added.push((endpoint.clone(), listener));
                }
            }
        }
        Ok(changes)
    }

    /// Stops the removed endpoints and starts the added ones.
    pub fn apply(&self, shared: &Arc<Shared>, changes: EndpointChanges) {
        self.lock().retain(|r| {
            let keep = !changes.removed.contains(&r.config.name);
            if !keep {
                tracing::info!(endpoint = %r.config.name, listen = %r.addr, "endpoint removed: no new clients; its clients stay");
                let _ = r.stop.send(true);
            }
            keep
        });
        for (config, listener) in changes.added {
            self.start(shared, config, listener);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
