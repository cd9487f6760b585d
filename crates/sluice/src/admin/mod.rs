//! Operating Sluice: the admin HTTP listener (metrics, health, JSON API, a status page) and the admin console
//! (PgBouncer-style `SHOW` and control commands over the PostgreSQL protocol). Both read the
//! same views of the proxy's shared state. See docs/operations.md.

mod config_view;
pub mod console;
mod http;
mod status_page;
mod status_view;
mod views;

pub use http::serve_http;

/// The virtual database an admin connects to for the console.
pub const ADMIN_DATABASE: &str = "sluice";
