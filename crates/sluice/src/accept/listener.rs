//! The accept loop: one task per client, nothing else done here so a slow client never holds
//! up the next accept.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::proxy::Shared;
use crate::session;
use crate::upstream::Route;

/// Accepts until shutdown, or until `stop` flips to true (the endpoint was removed); the
/// listener's clients go to `route`.
pub async fn serve_listener(
    listener: TcpListener,
    shared: Arc<Shared>,
    route: Route,
    mut stop: watch::Receiver<bool>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(session::serve(shared.clone(), stream, peer, route));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
            _ = stop.changed() => return,
        }
    }
}
