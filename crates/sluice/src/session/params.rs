//! Session parameters in transaction mode. Each client has its own values (from its startup
//! packet, then SET, RESET and set_config); each server connection records what Sluice set on
//! it. When a client borrows a connection whose values differ, the difference is applied first,
//! so `SET search_path` works without pinning and never leaks to another client.

use std::collections::BTreeMap;

use pgwire::StartupMessage;
use sql::{quote_ident, quote_literal, Effect};

/// Startup parameters that are not session settings.
const NOT_SETTINGS: [&str; 4] = ["user", "database", "replication", "options"];

pub type Settings = BTreeMap<String, String>;

/// The client's settings from its startup packet, `options=-c name=value` included.
pub fn from_startup(startup: &StartupMessage) -> Settings {
    let mut settings = Settings::new();
    for (name, value) in &startup.params {
        if name == "options" {
            settings.extend(parse_options(value));
        } else if !NOT_SETTINGS.contains(&name.as_str())
            && !name.starts_with(pgwire::startup::PROTOCOL_OPTION_PREFIX)
        {
            settings.insert(name.to_ascii_lowercase(), value.clone());
        }
    }
    settings
}

/// `-c name=value` and `--name=value`, with backslash-escaped spaces, as libpq passes them.
fn parse_options(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)))
            }
            c => word.push(c),
        }
    }
    words.extend((!word.is_empty()).then_some(word));
    let mut out = Vec::new();
    let mut iter = words.into_iter();
    while let Some(w) = iter.next() {
        let setting = match w.as_str() {
            "-c" => iter.next(),
            _ => w
                .strip_prefix("--")
                .map(str::to_owned)
                .or_else(|| w.strip_prefix("-c").map(str::to_owned)),
        };
        if let Some((name, value)) = setting.as_deref().and_then(|s| s.split_once('=')) {
            out.push((
                name.replace('-', "_").to_ascii_lowercase(),
                value.to_owned(),
            ));
        }
    }
    out
}

/// The statement that turns a server connection's `applied` settings into `wanted`, if they
/// differ. set_config takes the value as a configuration-file string, which is what
/// current_setting returns, so list values like search_path round-trip.
pub fn sync_statement(wanted: &Settings, applied: &Settings) -> Option<String> {
    let mut sql = String::new();
    for (name, value) in wanted {
        if applied.get(name) != Some(value) {
            let call = format!(
                "set_config({}, {}, false)",
                quote_literal(name),
                quote_literal(value)
            );
            sql.push_str(if sql.is_empty() { "SELECT " } else { ", " });
            sql.push_str(&call);
        }
    }
    if !sql.is_empty() {
        sql.push(';');
    }
    for name in applied.keys().filter(|name| !wanted.contains_key(*name)) {
        sql.push_str(&format!("RESET {};", quote_ident(name)));
    }
    (!sql.is_empty()).then_some(sql)
}

/// SQL prepared statements (PREPARE name AS ...), by name: the PREPARE text to replay.
pub type SqlStatements = BTreeMap<String, String>;

/// The statements that turn a server connection's SQL prepared statements into the client's.
pub fn sql_statements_sync(wanted: &SqlStatements, applied: &SqlStatements) -> Option<String> {
    let mut sql = String::new();
    for (name, text) in applied {
        if wanted.get(name) != Some(text) {
            sql.push_str(&format!("DEALLOCATE {};", quote_ident(name)));
        }
    }
    for (name, text) in wanted {
        if applied.get(name) != Some(text) {
            sql.push_str(text.trim_end_matches(';'));
            sql.push(';');
        }
    }
    (!sql.is_empty()).then_some(sql)
}

/// The query listing the SQL prepared statements a session has now.
pub const SQL_STATEMENTS_QUERY: &str =
    "SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql";

/// After a transaction that prepared or deallocated: keep the statements the server really has
/// (`existing`), with their PREPARE text from this transaction or from before.
pub fn update_sql_statements(
    touched: &Touched,
    existing: &[String],
    client: &mut SqlStatements,
    applied: &mut SqlStatements,
) {
    let mut now = SqlStatements::new();
    for name in existing {
        let text = touched
            .prepared_text
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .or_else(|| client.get(name).cloned());
        if let Some(text) = text {
            now.insert(name.clone(), text);
        }
    }
    *client = now.clone();
    *applied = now;
}

/// What a transaction did to session settings, collected from the client's SQL.
#[derive(Debug, Default)]
pub struct Touched {
    /// Settings given a session-level value: their new values are read back from the server.
    pub set: Vec<String>,
    /// RESET name: back to the client's own startup value.
    pub reset: Vec<String>,
    pub reset_all: bool,
    /// DISCARD ALL: everything back to startup values, and the server's own state reset too.
    pub discard_all: bool,
    /// PREPARE, DEALLOCATE or DISCARD ALL ran: SQL prepared statements are read back.
    pub sql_statements: bool,
    /// The text of each SQL PREPARE, by statement name, to replay on other connections.
    pub prepared_text: Vec<(String, String)>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.reset.is_empty()
            && !self.reset_all
            && !self.discard_all
            && !self.sql_statements
    }

    pub fn record(&mut self, effect: &Effect) {
        match effect {
            Effect::Set {
                name, local: false, ..
            }
            | Effect::SetConfig {
                name, local: false, ..
            } => self.set.push(name.to_ascii_lowercase()),
            Effect::Reset { name } => self.reset.push(name.to_ascii_lowercase()),
            Effect::ResetAll => self.reset_all = true,
            Effect::Discard(sql::DiscardWhat::All) => {
                self.discard_all = true;
                self.sql_statements = true;
            }
            Effect::Prepare { name, text } => {
                self.sql_statements = true;
                self.prepared_text.push((name.clone(), text.clone()));
            }
            Effect::Deallocate { .. } => self.sql_statements = true,
            _ => {}
        }
    }

    /// The query that reads back the settings SET in this transaction.
    pub fn read_back_query(&self) -> Option<String> {
        if self.set.is_empty() {
            return None;
        }
        let columns: Vec<String> = self
            .set
            .iter()
            .map(|name| format!("current_setting({})", quote_literal(name)))
            .collect();
        Some(format!("SELECT {}", columns.join(", ")))
    }

    /// Applies the transaction's changes to the client's settings and to what the server
    /// connection has. `read_back` holds the current values of `set`, in order.
    pub fn apply(
        &self,
        startup: &Settings,
        client: &mut Settings,
        applied: &mut Settings,
        read_back: &[Option<String>],
    ) {
        if self.reset_all || self.discard_all {
            *client = startup.clone();
            applied.clear();
        }
        for name in &self.reset {
            match startup.get(name) {
                Some(value) => client.insert(name.clone(), value.clone()),
                None => client.remove(name),
            };
            applied.remove(name);
        }
        for (name, value) in self.set.iter().zip(read_back) {
            if let Some(value) = value {
                client.insert(name.clone(), value.clone());
                applied.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn startup_settings_include_options() {
        let startup = StartupMessage {
            protocol_minor: 0,
            params: vec![
                ("user".into(), "app".into()),
                ("database".into(), "db".into()),
                ("application_name".into(), "web".into()),
                (
                    "options".into(),
                    "-c statement_timeout=5s --search-path=a,b -c x=has\\ space".into(),
                ),
                ("_pq_.something".into(), "1".into()),
            ],
        };
        assert_eq!(
            from_startup(&startup),
            settings(&[
                ("application_name", "web"),
                ("search_path", "a,b"),
                ("statement_timeout", "5s"),
                ("x", "has space")
            ])
        );
    }

    #[test]
    fn sync_sets_what_differs_and_resets_what_is_extra() {
        let wanted = settings(&[("search_path", "\"$user\", public"), ("timezone", "UTC")]);
        let applied = settings(&[("timezone", "UTC"), ("work_mem", "64MB")]);
        assert_eq!(
            sync_statement(&wanted, &applied).unwrap(),
            "SELECT set_config('search_path', '\"$user\", public', false);RESET work_mem;"
        );
        assert_eq!(sync_statement(&wanted, &wanted), None);
    }

    #[test]
    fn reset_returns_to_the_clients_startup_value() {
        let startup = settings(&[("application_name", "web")]);
        let mut client = settings(&[("application_name", "changed"), ("work_mem", "1MB")]);
        let mut applied = client.clone();
        let mut touched = Touched::default();
        touched.record(&Effect::Reset {
            name: "application_name".into(),
        });
        touched.record(&Effect::Set {
            name: "TimeZone".into(),
            value: "'UTC'".into(),
            local: false,
        });
        touched.record(&Effect::Set {
            name: "x".into(),
            value: "1".into(),
            local: true,
        });
        touched.apply(&startup, &mut client, &mut applied, &[Some("UTC".into())]);
        assert_eq!(
            client,
            settings(&[
                ("application_name", "web"),
                ("timezone", "UTC"),
                ("work_mem", "1MB")
            ])
        );
        assert_eq!(
            applied,
            settings(&[("timezone", "UTC"), ("work_mem", "1MB")])
        );
        let mut all = Touched::default();
        all.record(&Effect::ResetAll);
        all.apply(&startup, &mut client, &mut applied, &[]);
        assert_eq!(client, startup);
        assert!(applied.is_empty());
    }
}
