//! The admin HTTP listener: health for orchestrators, Prometheus metrics, a JSON API, and a
//! status page for people.
//! No authentication: it belongs on a private address (docs/operations.md).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

use serde::Deserialize;

use super::{config_view, status_page, status_view, views};
use crate::proxy::Shared;

/// Serves until the task is aborted (the supervisor does, after the drain).
pub async fn serve_http(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/", get(status_page::status_page))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/pools",
            get(|s: State<Arc<Shared>>| async move { Json(views::pools(&s)) }),
        )
        .route(
            "/api/clients",
            get(|s: State<Arc<Shared>>| async move { Json(views::clients(&s)) }),
        )
        .route(
            "/api/servers",
            get(|s: State<Arc<Shared>>| async move { Json(views::servers(&s)) }),
        )
        .route(
            "/api/targets",
            get(|s: State<Arc<Shared>>| async move { Json(views::targets(&s)) }),
        )
        .route(
            "/api/stats",
            get(|s: State<Arc<Shared>>| async move { Json(views::stats(&s)) }),
        )
        .route("/api/status", get(status))
        .route(
            "/api/config",
            get(|s: State<Arc<Shared>>| async move { Json(config_view::as_json(&s.config())) }),
        )
        .with_state(shared);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "admin listener failed");
    }
}

/// 200 while the process can answer at all.
async fn livez() -> &'static str {
    "ok\n"
}

/// 200 when new transactions can be served: a writer is known and Sluice is not draining.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if *shared.shutdown.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down\n",
        )
            .into_response();
    }
    match shared.target.topology.writer() {
        Some(w) => (StatusCode::OK, format!("ready: writer {}\n", w.host)).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no writer known\n",
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct StatusQuery {
    /// Only events with a larger sequence number: the page asks for what it has not seen.
    #[serde(default)]
    events_after: u64,
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<StatusQuery>,
) -> Json<status_view::StatusView> {
    Json(status_view::status(&shared, query.events_after))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let body = crate::metrics::encode(&shared);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}
