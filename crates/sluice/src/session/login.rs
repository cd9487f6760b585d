//! From the first packet to the first ReadyForQuery: negotiate, authenticate, route, greet.

use std::sync::Arc;

use pgwire::startup::PROTOCOL_OPTION_PREFIX;
use pgwire::{encode, CancelKey, StartupMessage, TransactionStatus};

use super::cancel::Registration;
use super::params::{self, Settings};
use crate::accept::{negotiate, ClientConn, Negotiated};
use crate::auth::{admit, authenticate, UserEntry};
use crate::error::SessionError;
use crate::proxy::Shared;
use crate::upstream::{send_cancel, PoolKey, Route, ServerParams};

/// A client that is logged in and routed to a pool.
pub struct LoggedIn {
    pub user: Arc<UserEntry>,
    /// Session settings from the startup packet: what RESET goes back to.
    pub startup: Settings,
    pub key: PoolKey,
    /// Writer or standby, from the listener the client came in on.
    pub route: Route,
    pub registration: Registration,
}

/// Who got in: a client of the pool, or an admin for the console (database `sluice`).
pub enum Admitted {
    Session(LoggedIn),
    Admin { user: Arc<UserEntry> },
}

/// Runs the login. `Ok(None)` means the connection was a CancelRequest, now handled.
pub async fn login(
    shared: &Shared,
    client: &mut ClientConn,
    route: Route,
) -> Result<Option<Admitted>, SessionError> {
    let startup = match negotiate(client, shared.client_tls.load().as_deref()).await? {
        Negotiated::Cancel(key) => {
            forward_cancel(shared, key).await;
            return Ok(None);
        }
        Negotiated::Startup(startup) => startup,
    };
    let user_name = startup
        .param("user")
        .filter(|u| !u.is_empty())
        .ok_or(SessionError::NoUser)?;
    let database = startup
        .param("database")
        .filter(|d| !d.is_empty())
        .unwrap_or(user_name);
    tracing::Span::current().record("user", user_name);
    tracing::Span::current().record("database", database);
    let address = client.peer.ip().to_canonical();
    let rules = &shared.config().access;
    admit(
        rules,
        &shared.failed_logins,
        &shared.users(),
        address,
        user_name,
        database,
    )?;
    negotiate_protocol_version(client, &startup);
    let user = authenticate(client, shared, user_name)
        .await
        .inspect_err(|e| {
            if matches!(e, SessionError::AuthFailed { .. }) {
                shared.failed_logins.record(address);
            }
        })?;
    if database == crate::admin::ADMIN_DATABASE {
        if !shared.config().admin.is_admin(user_name) {
            return Err(SessionError::NotAdmin {
                user: user_name.to_owned(),
            });
        }
        crate::admin::console::greet(client);
        client.flush().await?;
        return Ok(Some(Admitted::Admin { user }));
    }
    if !user.may_use_database(database) {
        return Err(SessionError::DatabaseNotAllowed {
            user: user_name.to_owned(),
            database: database.to_owned(),
        });
    }
    let key = PoolKey {
        database: database.into(),
        user: user.name.clone(),
    };
    let startup = params::from_startup(&startup);
    let params = shared
        .target
        .params_with(route, &key, &user.credentials, &startup)
        .await?;
    let registration = shared.cancels.register();
    greet(client, &params, registration.key);
    client.flush().await?;
    Ok(Some(Admitted::Session(LoggedIn {
        user,
        startup,
        key,
        route,
        registration,
    })))
}

/// Protocol 3.x with x > 0, or `_pq_.` options: say we speak 3.0 and ignore the options, as
/// PostgreSQL does.
fn negotiate_protocol_version(client: &mut ClientConn, startup: &StartupMessage) {
    let options: Vec<&str> = startup
        .params
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| name.starts_with(PROTOCOL_OPTION_PREFIX))
        .collect();
    if startup.protocol_minor > 0 || !options.is_empty() {
        encode::negotiate_protocol_version(&mut client.wbuf, 0, &options);
    }
}

/// AuthenticationOk, the server parameters as the server reports them with the client's
/// startup settings applied, Sluice's own cancel key, ReadyForQuery.
fn greet(client: &mut ClientConn, params: &ServerParams, key: CancelKey) {
    encode::authentication_ok(&mut client.wbuf);
    for (name, value) in params.iter() {
        encode::parameter_status(&mut client.wbuf, name, value);
    }
    encode::backend_key_data(&mut client.wbuf, key);
    encode::ready_for_query(&mut client.wbuf, TransactionStatus::Idle);
}

/// A CancelRequest with a key Sluice gave out goes to the server running that client's work;
/// any other key is ignored, as PostgreSQL ignores unknown keys.
async fn forward_cancel(shared: &Shared, key: CancelKey) {
    let Some(route) = shared.cancels.lookup(&key) else {
        tracing::debug!("cancel request with an unknown key ignored");
        return;
    };
    if let Err(e) = send_cancel(route.addr, route.key).await {
        tracing::warn!(error = %e, "could not forward a cancel request");
    }
}
