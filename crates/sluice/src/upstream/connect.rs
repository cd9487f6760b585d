//! Opening a server connection: resolve, connect, start up, authenticate, run init_query.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use config::{HostPort, ServerAuth};
use pgwire::auth::ScramKeyCache;
use pgwire::{encode, CancelKey};
use tokio::io::AsyncWriteExt;
use tokio::net::{lookup_host, TcpStream};

use super::secure::secure;
use super::{server_auth, ServerConn, UpstreamError};
use crate::tls::ServerTls;

/// Everything needed to open one server connection.
pub struct ConnectParams<'a> {
    pub host: &'a HostPort,
    pub user: &'a str,
    pub password: &'a str,
    pub database: &'a str,
    pub init_query: &'a str,
    /// Sent in the startup packet, so the backend shows it from its first moment.
    pub application_name: Option<&'a str>,
    pub timeout: Duration,
    pub key_cache: &'a ScramKeyCache,
    pub max_prepared: usize,
    pub tls: &'a ServerTls,
    pub server_auth: ServerAuth,
}

/// Opens and logs in one server connection, within `params.timeout`.
pub async fn connect(params: &ConnectParams<'_>) -> Result<ServerConn, UpstreamError> {
    tokio::time::timeout(params.timeout, connect_now(params))
        .await
        .map_err(|_| UpstreamError::Timeout {
            host: params.host.to_string(),
            after: params.timeout,
        })?
}

async fn connect_now(params: &ConnectParams<'_>) -> Result<ServerConn, UpstreamError> {
    let (tcp, addr) = open_tcp(params.host).await?;
    let (stream, link) = secure(tcp, params.host, params.tls).await?;
    let mut conn = ServerConn::new(stream, addr, params.max_prepared);
    let mut out = BytesMut::new();
    let mut startup = vec![("user", params.user), ("database", params.database)];
    startup.extend(
        params
            .application_name
            .map(|name| ("application_name", name)),
    );
    encode::startup_message(&mut out, &startup);
    conn.stream.write_all(&out).await?;
    let login = server_auth::Login {
        user: params.user,
        password: params.password,
        key_cache: params.key_cache,
        link: &link,
        allowed: params.server_auth,
    };
    server_auth::login(&mut conn, &login).await?;
    if !params.init_query.is_empty() {
        conn.simple_query(params.init_query).await?;
    }
    Ok(conn)
}

/// Resolves the host name on every connect, so DNS-based failover is followed.
async fn open_tcp(host: &HostPort) -> Result<(TcpStream, SocketAddr), UpstreamError> {
    let name = host.to_string();
    let addrs = lookup_host((host.host.as_str(), host.port))
        .await
        .map_err(|source| UpstreamError::Resolve {
            host: name.clone(),
            source,
        })?;
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok((stream, addr));
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(UpstreamError::Connect {
        host: name,
        source: last_error.unwrap_or_else(|| std::io::Error::other("no addresses")),
    })
}

/// Sends a CancelRequest for `key` to the server at `addr` (a fresh connection, as the protocol
/// requires).
pub async fn send_cancel(addr: SocketAddr, key: CancelKey) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut out = BytesMut::new();
    encode::cancel_request(&mut out, key);
    stream.write_all(&out).await?;
    // The server closes without a reply; wait for that so the cancel is delivered before we
    // report back.
    let mut sink = [0u8; 1];
    let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await;
    Ok(())
}
