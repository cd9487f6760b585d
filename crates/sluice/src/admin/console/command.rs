//! The console's commands, parsed from one simple Query. Case-insensitive; a trailing
//! semicolon is allowed, as in PgBouncer.

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Pools,
    Clients,
    Servers,
    Stats,
    Databases,
    Config,
    Version,
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Show(Show),
    Control(Control),
    /// An empty query string: answered with EmptyQueryResponse, as PostgreSQL does.
    Empty,
}

/// The commands that change something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Reconnect,
    KillClient(u64),
    Reload,
    Shutdown,
}

/// Why a query is not a command; the text goes to the client as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotACommand(pub String);

/// Every command with a one-line description, for SHOW HELP and for errors.
pub const HELP: &[(&str, &str)] = &[
    (
        "SHOW POOLS",
        "one row per (database, user) pool: clients and server connections",
    ),
    ("SHOW CLIENTS", "one row per client connection"),
    ("SHOW SERVERS", "one row per server connection of the pool"),
    ("SHOW STATS", "request and wait totals since start"),
    (
        "SHOW DATABASES",
        "databases with a pool, the writer and the pool limits",
    ),
    (
        "SHOW CONFIG",
        "the configuration in force, secrets redacted",
    ),
    ("SHOW VERSION", "the Sluice version"),
    ("SHOW HELP", "this list"),
    (
        "PAUSE",
        "new transactions wait until RESUME; answers once running ones have finished",
    ),
    ("RESUME", "let waiting transactions go"),
    (
        "RECONNECT",
        "retire every server connection: idle ones now, lent ones when returned",
    ),
    (
        "KILL_CLIENT id",
        "disconnect the client with this id (see SHOW CLIENTS)",
    ),
    (
        "RELOAD",
        "read the configuration file again and apply what can change while running",
    ),
    (
        "SHUTDOWN",
        "stop accepting, let running transactions finish, then exit",
    ),
];

impl Command {
    pub fn parse(sql: &str) -> Result<Command, NotACommand> {
        let text = sql.trim().trim_end_matches(';').trim();
        let words: Vec<String> = text
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Ok(match words.as_slice() {
            [] => Command::Empty,
            ["SHOW", what] => Command::Show(parse_show(what)?),
            ["PAUSE"] => Command::Control(Control::Pause),
            ["RESUME"] => Command::Control(Control::Resume),
            ["RECONNECT"] => Command::Control(Control::Reconnect),
            ["RELOAD"] => Command::Control(Control::Reload),
            ["SHUTDOWN"] => Command::Control(Control::Shutdown),
            ["KILL_CLIENT", id] => Command::Control(Control::KillClient(kill_id(id)?)),
            ["KILL_CLIENT"] => {
                return Err(NotACommand(
                    "KILL_CLIENT needs a client id: KILL_CLIENT 42".into(),
                ))
            }
            _ => return Err(unknown(text)),
        })
    }
}

fn kill_id(id: &str) -> Result<u64, NotACommand> {
    id.parse().map_err(|_| {
        NotACommand(format!(
            "KILL_CLIENT needs a client id (a number from SHOW CLIENTS), got \"{id}\""
        ))
    })
}

fn parse_show(what: &str) -> Result<Show, NotACommand> {
    Ok(match what {
        "POOLS" => Show::Pools,
        "CLIENTS" => Show::Clients,
        "SERVERS" => Show::Servers,
        "STATS" => Show::Stats,
        "DATABASES" => Show::Databases,
        "CONFIG" => Show::Config,
        "VERSION" => Show::Version,
        "HELP" => Show::Help,
        other => return Err(unknown(&format!("SHOW {other}"))),
    })
}

fn unknown(text: &str) -> NotACommand {
    let commands: Vec<&str> = HELP.iter().map(|(c, _)| *c).collect();
    NotACommand(format!(
        "unknown admin console command \"{text}\": run SHOW HELP; commands are {}",
        commands.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_case_insensitively() {
        assert_eq!(
            Command::parse("show pools;"),
            Ok(Command::Show(Show::Pools))
        );
        assert_eq!(
            Command::parse("  SHOW   Clients "),
            Ok(Command::Show(Show::Clients))
        );
        assert_eq!(
            Command::parse("kill_client 17"),
            Ok(Command::Control(Control::KillClient(17)))
        );
        assert_eq!(Command::parse(";"), Ok(Command::Empty));
        assert_eq!(
            Command::parse("PAUSE"),
            Ok(Command::Control(Control::Pause))
        );
    }

    #[test]
    fn mistakes_point_to_show_help() {
        let NotACommand(msg) = Command::parse("SELECT 1").unwrap_err();
        assert!(msg.contains("SHOW HELP"), "{msg}");
        let NotACommand(msg) = Command::parse("SHOW LISTS").unwrap_err();
        assert!(
            msg.starts_with("unknown admin console command \"SHOW LISTS\""),
            "{msg}"
        );
        let NotACommand(msg) = Command::parse("KILL_CLIENT x").unwrap_err();
        assert!(msg.contains("a number from SHOW CLIENTS"), "{msg}");
    }
}
