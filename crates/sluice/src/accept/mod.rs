//! Accepting clients: the listener, the client connection type, and the negotiation of the
//! first packet (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage).

mod client_conn;
mod client_slots;
mod endpoints;
mod listener;
mod negotiate;

pub use client_conn::{ClientConn, Transport};
pub use client_slots::ClientSlots;
pub use endpoints::{EndpointChanges, Endpoints};
pub use listener::serve_listener;
pub use negotiate::{negotiate, Negotiated};
