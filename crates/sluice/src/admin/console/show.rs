//! The SHOW commands, with PgBouncer's column names where the concept is the same.

use super::command::{Show, HELP};
use super::result_set::{v, Column, ResultSet};
use crate::admin::{config_view, views};
use crate::proxy::Shared;

pub fn show(shared: &Shared, what: Show) -> ResultSet {
    match what {
        Show::Pools => pools(shared),
        Show::Clients => clients(shared),
        Show::Servers => servers(shared),
        Show::Stats => stats(shared),
        Show::Databases => databases(shared),
        Show::Config => config(shared),
        Show::Version => version(),
        Show::Help => help(),
    }
}

fn pools(shared: &Shared) -> ResultSet {
    use Column::{Int, Text};
    let mut rs = ResultSet::new(&[
        Text("database"),
        Text("user"),
        Int("cl_active"),
        Int("cl_waiting"),
        Int("sv_active"),
        Int("sv_idle"),
        Int("sv_login"),
        Int("maxwait"),
        Int("maxwait_us"),
        Text("pool_mode"),
        Text("role"),
    ]);
    for p in views::pools(shared) {
        let whole = p.maxwait.trunc();
        rs.row(vec![
            v(p.database),
            v(p.user),
            v(p.cl_active),
            v(p.cl_waiting),
            v(p.sv_active),
            v(p.sv_idle),
            v(p.sv_login),
            v(whole as u64),
            v(((p.maxwait - whole) * 1e6) as u64),
            v(p.pool_mode),
            v(p.role),
        ]);
    }
    rs
}

fn clients(shared: &Shared) -> ResultSet {
    use Column::{Int, Text};
    let mut rs = ResultSet::new(&[
        Text("type"),
        Int("id"),
        Text("user"),
        Text("database"),
        Text("state"),
        Text("addr"),
        Int("port"),
        Text("connect_time"),
        Text("pin_reason"),
        Text("link"),
        Int("remote_pid"),
    ]);
    for c in views::clients(shared) {
        let (addr, port) = split_addr(&c.client_addr);
        rs.row(vec![
            v("C"),
            v(c.id),
            v(c.user),
            v(c.database),
            v(c.state),
            v(addr),
            v(port),
            v(c.connected_since),
            c.pin_reason.map(str::to_owned),
            c.server,
            c.server_pid.map(|p| p.to_string()),
        ]);
    }
    rs
}

fn servers(shared: &Shared) -> ResultSet {
    use Column::{Int, Text};
    let mut rs = ResultSet::new(&[
        Text("type"),
        Text("user"),
        Text("database"),
        Text("state"),
        Text("addr"),
        Int("port"),
        Int("remote_pid"),
        Int("link"),
        Int("idle_us"),
    ]);
    for s in views::servers(shared) {
        rs.row(vec![
            v("S"),
            v(s.user),
            v(s.database),
            v(s.state),
            v(s.addr.ip()),
            v(s.addr.port()),
            v(s.remote_pid),
            s.link.map(|l| l.to_string()),
            s.idle_for.map(|d| ((d * 1e6) as u64).to_string()),
        ]);
    }
    rs
}

fn stats(shared: &Shared) -> ResultSet {
    use Column::{Int, Text};
    let s = views::stats(shared);
    let mut rs = ResultSet::new(&[
        Text("database"),
        Int("total_xact_count"),
        Int("total_query_count"),
        Int("total_query_time"),
        Int("total_wait_time"),
        Int("avg_query_time"),
        Int("avg_wait_time"),
    ]);
    // Sluice counts for the whole proxy, not per database.
    rs.row(vec![
        v("*"),
        v(s.total_xact_count),
        v(s.total_query_count),
        v(s.total_query_time),
        v(s.total_wait_time),
        v(s.avg_query_time),
        v(s.avg_wait_time),
    ]);
    rs
}

fn databases(shared: &Shared) -> ResultSet {
    use Column::{Int, Text};
    let mut rs = ResultSet::new(&[
        Text("name"),
        Text("host"),
        Int("port"),
        Text("database"),
        Int("pool_size"),
        Text("pool_mode"),
        Int("current_connections"),
        Int("paused"),
        Int("disabled"),
    ]);
    let writer = shared.target.topology.writer();
    let stats = shared.target.pool.stats();
    let mut open: std::collections::BTreeMap<String, usize> = Default::default();
    for (key, k) in &stats.keys {
        *open.entry(key.database.to_string()).or_default() += k.idle + k.borrowed + k.connecting;
    }
    for (database, current) in open {
        rs.row(vec![
            v(&database),
            writer.as_ref().map(|w| w.host.host.clone()),
            writer.as_ref().map(|w| w.host.port.to_string()),
            v(&database),
            // The limit is shared by every pool of the target group.
            v(stats.max_size),
            v(shared.config().proxy.pool_mode.as_str()),
            v(current),
            v(u8::from(shared.pause.is_paused())),
            v(0),
        ]);
    }
    rs
}

fn config(shared: &Shared) -> ResultSet {
    let mut rs = ResultSet::new(&[
        Column::Text("key"),
        Column::Text("value"),
        Column::Text("changeable"),
    ]);
    for (key, value) in config_view::settings(&shared.config()) {
        let changeable = if crate::reload::changeable(&key) {
            "yes"
        } else {
            "no"
        };
        rs.row(vec![v(key), v(config_view::text(&value)), v(changeable)]);
    }
    rs
}

fn version() -> ResultSet {
    let mut rs = ResultSet::new(&[Column::Text("version")]);
    rs.row(vec![v(format!("Sluice {}", env!("CARGO_PKG_VERSION")))]);
    rs
}

fn help() -> ResultSet {
    let mut rs = ResultSet::new(&[Column::Text("command"), Column::Text("description")]);
    for (command, description) in HELP {
        rs.row(vec![v(command), v(description)]);
    }
    rs
}

/// "1.2.3.4:5" → ("1.2.3.4", "5"); an IPv6 address keeps no brackets.
fn split_addr(addr: &str) -> (String, String) {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) => (a.ip().to_string(), a.port().to_string()),
        Err(_) => (addr.to_owned(), String::new()),
    }
}
