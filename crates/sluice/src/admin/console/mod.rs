//! The admin console: a PostgreSQL-protocol session on the virtual database `sluice` for the
//! users listed in `[admin] users`. Simple query protocol only; every answer is built here,
//! no server is involved.

mod command;
mod result_set;
mod show;

use std::sync::Arc;
use std::time::Duration;

use pgwire::{encode, ErrorFields, FrontendTag, Severity, SqlState, TransactionStatus};

use self::command::{Command, Control, NotACommand};
use crate::accept::ClientConn;
use crate::clients::{ClientEntry, KillReason};
use crate::error::SessionError;
use crate::proxy::Shared;

/// What PostgreSQL reports at login that clients rely on. The version is PostgreSQL's
/// numbering (drivers parse it); SHOW VERSION gives Sluice's own.
const PARAMETERS: &[(&str, &str)] = &[
    ("server_version", "15.0"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("application_name", "sluice"),
];

/// AuthenticationOk, the parameters, ReadyForQuery.
pub fn greet(client: &mut ClientConn) {
    encode::authentication_ok(&mut client.wbuf);
    for (name, value) in PARAMETERS {
        encode::parameter_status(&mut client.wbuf, name, value);
    }
    encode::ready_for_query(&mut client.wbuf, TransactionStatus::Idle);
}

/// Answers commands until the admin leaves, is killed, or Sluice shuts down.
pub async fn serve(
    shared: &Arc<Shared>,
    client: &mut ClientConn,
    entry: Arc<ClientEntry>,
) -> Result<(), SessionError> {
    let mut stop = Box::pin(crate::session::stop_signal(shared.shutdown.clone(), entry));
    // After an extended-protocol message: skip to its Sync, as a server does after an error.
    let mut skipping = false;
    loop {
        let (tag, body) = tokio::select! {
            biased;
            why = stop.as_mut() => return Err(why),
            message = client.read_message() => message?,
        };
        match tag {
            FrontendTag::Terminate => return Ok(()),
            FrontendTag::Query => {
                let sql = std::str::from_utf8(body.strip_suffix(b"\0").unwrap_or(&body))
                    .unwrap_or_default();
                answer(shared, client, sql).await;
            }
            FrontendTag::Sync => {
                skipping = false;
                encode::ready_for_query(&mut client.wbuf, TransactionStatus::Idle);
            }
            _ if skipping => continue,
            _ => {
                skipping = true;
                let error = ErrorFields::new(
                    Severity::Error,
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "the Sluice admin console speaks the simple query protocol only",
                )
                .with_hint("use psql, or your driver's simple query mode; run SHOW HELP");
                encode::error_response(&mut client.wbuf, &error);
            }
        }
        client.flush().await?;
    }
}

/// Runs one query string and queues the reply and ReadyForQuery.
async fn answer(shared: &Arc<Shared>, client: &mut ClientConn, sql: &str) {
    tracing::info!(command = sql.trim(), "admin console command");
    match Command::parse(sql) {
        Ok(Command::Empty) => encode::empty_query_response(&mut client.wbuf),
        Ok(Command::Show(what)) => show::show(shared, what).write(&mut client.wbuf),
        Ok(Command::Control(command)) => match control(shared, command).await {
            Ok((tag, notice)) => {
                if let Some(text) = notice {
                    let notice =
                        ErrorFields::new(Severity::Notice, SqlState::SUCCESSFUL_COMPLETION, text);
                    encode::notice_response(&mut client.wbuf, &notice);
                }
                encode::command_complete(&mut client.wbuf, tag);
            }
            Err(error) => encode::error_response(&mut client.wbuf, &error),
        },
        Err(NotACommand(text)) => {
            let error = ErrorFields::new(Severity::Error, SqlState::SYNTAX_ERROR, text);
            encode::error_response(&mut client.wbuf, &error);
        }
    }
    encode::ready_for_query(&mut client.wbuf, TransactionStatus::Idle);
}

/// The commands that change something. Ok: the command tag and an optional NOTICE.
async fn control(
    shared: &Arc<Shared>,
    command: Control,
) -> Result<(&'static str, Option<String>), ErrorFields> {
    match command {
        Control::Pause => {
            shared.pause.set(true);
            tracing::warn!("PAUSE: new transactions wait until RESUME");
            Ok(("PAUSE", wait_for_running(shared).await))
        }
        Control::Resume => {
            shared.pause.set(false);
            tracing::warn!("RESUME: transactions run again");
            Ok(("RESUME", None))
        }
        Control::Reconnect => {
            let idle = shared.target.pool.retire_all();
            let closed = idle.len();
            tokio::spawn(async move {
                for conn in idle {
                    conn.terminate().await;
                }
            });
            tracing::warn!(
                idle_closed = closed,
                "RECONNECT: every server connection retired"
            );
            Ok(("RECONNECT", None))
        }
        Control::KillClient(id) => match shared.clients.get(id) {
            Some(target) => {
                target.kill(KillReason::Admin);
                tracing::warn!(client = id, "KILL_CLIENT");
                Ok(("KILL_CLIENT", None))
            }
            None => Err(ErrorFields::new(
                Severity::Error,
                SqlState::UNDEFINED_OBJECT,
                format!("no client with id {id}: see SHOW CLIENTS"),
            )),
        },
        Control::Reload => {
            tracing::warn!("RELOAD from the admin console");
            let outcome = crate::reload::reload_file(shared).await;
            crate::reload::report(shared, &outcome);
            match outcome {
                Ok(reloaded) if reloaded.restart_needed.is_empty() => Ok(("RELOAD", None)),
                Ok(reloaded) => Ok((
                    "RELOAD",
                    Some(format!(
                        "these keys changed but keep their running values until a restart: {}",
                        reloaded.restart_needed.join(", ")
                    )),
                )),
                Err(e) => Err(ErrorFields::new(
                    Severity::Error,
                    SqlState::CONFIG_FILE_ERROR,
                    format!("configuration not reloaded; the running configuration stays: {e:#}"),
                )),
            }
        }
        Control::Shutdown => {
            tracing::warn!("SHUTDOWN from the admin console");
            // Paused transactions must be able to finish during the drain.
            shared.pause.set(false);
            shared.shutdown_handle.shutdown();
            Ok(("SHUTDOWN", None))
        }
    }
}

/// PAUSE answers once no server connection is lent (PgBouncer's behaviour), or after
/// shutdown_timeout with a NOTICE saying how many are still running (pinned clients and
/// session-mode clients keep theirs until they leave).
async fn wait_for_running(shared: &Shared) -> Option<String> {
    let deadline = tokio::time::Instant::now() + shared.config().proxy.shutdown_timeout;
    loop {
        let running = shared.target.pool.stats().borrowed;
        if running == 0 {
            return None;
        }
        if tokio::time::Instant::now() >= deadline {
            return Some(format!(
                "paused, but {running} server connections are still in use (pinned or session-mode clients)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
