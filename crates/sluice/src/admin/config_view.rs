//! The configuration in force, as `section.key = value` pairs, with every secret redacted.
//! Used by `SHOW CONFIG` and `/api/config`. A new config key belongs here too.

use config::Config;
use serde_json::{json, Value};

pub const REDACTED: &str = "<redacted>";

/// Every setting as (key path, value). Durations read as in the file ("30s"); unset optional
/// values are null; "0s" settings that disable something show as "0s".
pub fn settings(c: &Config) -> Vec<(String, Value)> {
    let dur = |d: std::time::Duration| json!(crate::error::humanize(d));
    let opt_dur =
        |d: Option<std::time::Duration>| json!(d.map_or("0s".into(), crate::error::humanize));
    let p = &c.proxy;
    let d = &c.database;
    let mut out: Vec<(String, Value)> = vec![
        ("proxy.listen".into(), json!(p.listen.to_string())),
        (
            "proxy.max_client_connections".into(),
            json!(p.max_client_connections),
        ),
        (
            "proxy.idle_client_timeout".into(),
            opt_dur(p.idle_client_timeout),
        ),
        ("proxy.pool_mode".into(), json!(p.pool_mode.as_str())),
        ("proxy.login_timeout".into(), dur(p.login_timeout)),
        ("proxy.max_message_size".into(), json!(p.max_message_size)),
        ("proxy.shutdown_timeout".into(), dur(p.shutdown_timeout)),
        ("proxy.worker_threads".into(), json!(p.worker_threads)),
        (
            "proxy.max_prepared_statements".into(),
            json!(p.max_prepared_statements),
        ),
        (
            "proxy.ignore_pin_reasons".into(),
            json!(p.ignore_pin_reasons),
        ),
        (
            "database.hosts".into(),
            json!(d.hosts.iter().map(ToString::to_string).collect::<Vec<_>>()),
        ),
        (
            "database.max_connections_percent".into(),
            json!(d.max_connections_percent),
        ),
        ("database.max_connections".into(), json!(d.max_connections)),
        (
            "database.max_idle_connections_percent".into(),
            json!(d.max_idle_connections_percent),
        ),
        (
            "database.connection_borrow_timeout".into(),
            dur(d.connection_borrow_timeout),
        ),
        ("database.init_query".into(), json!(d.init_query)),
        (
            "database.server_idle_timeout".into(),
            opt_dur(d.server_idle_timeout),
        ),
        (
            "database.server_lifetime".into(),
            opt_dur(d.server_lifetime),
        ),
        ("database.connect_timeout".into(), dur(d.connect_timeout)),
        ("database.probe_interval".into(), dur(d.probe_interval)),
        ("database.max_replica_lag".into(), dur(d.max_replica_lag)),
        ("database.tls_mode".into(), json!(d.tls_mode.as_str())),
        (
            "database.tls_ca_file".into(),
            json!(d.tls_ca_file.as_ref().map(|p| p.display().to_string())),
        ),
        ("database.server_auth".into(), json!(d.server_auth.as_str())),
        ("proxy.so_reuseport".into(), json!(p.so_reuseport)),
        ("proxy.max_failed_logins".into(), json!(p.max_failed_logins)),
        (
            "proxy.failed_login_window".into(),
            dur(p.failed_login_window),
        ),
    ];
    if let Some(tls) = &p.tls {
        out.extend([
            (
                "proxy.tls.cert_file".into(),
                json!(tls.cert_file.display().to_string()),
            ),
            (
                "proxy.tls.key_file".into(),
                json!(tls.key_file.display().to_string()),
            ),
            (
                "proxy.tls.min_version".into(),
                json!(tls.min_version.as_str()),
            ),
            ("proxy.tls.require_tls".into(), json!(tls.require_tls)),
        ]);
    }
    let secrets = &c.secrets;
    out.extend([
        (
            "secrets.refresh_interval".into(),
            opt_dur(secrets.refresh_interval),
        ),
        ("secrets.exec_timeout".into(), dur(secrets.exec_timeout)),
        ("secrets.aws_region".into(), json!(secrets.aws_region)),
        (
            "secrets.aws_endpoint_url".into(),
            json!(secrets.aws_endpoint_url),
        ),
        ("secrets.aws_timeout".into(), dur(secrets.aws_timeout)),
    ]);
    for (i, u) in c.users.iter().enumerate() {
        out.push((format!("users[{i}].name"), json!(u.name)));
        out.push((format!("users[{i}].password"), json!(REDACTED)));
        out.push((
            format!("users[{i}].client_auth"),
            json!(u.client_auth.as_str()),
        ));
        out.push((format!("users[{i}].databases"), json!(u.databases)));
    }
    let l = &c.log;
    out.extend([
        ("log.format".into(), json!(l.format.as_str())),
        ("log.filter".into(), json!(l.filter)),
        ("log.log_connections".into(), json!(l.log_connections)),
        ("log.log_pins".into(), json!(l.log_pins)),
        ("log.log_failover".into(), json!(l.log_failover)),
        ("log.stats_interval".into(), opt_dur(l.stats_interval)),
        (
            "admin.listen".into(),
            json!(c.admin.listen.map(|a| a.to_string())),
        ),
        ("admin.users".into(), json!(c.admin.users)),
    ]);
    out
}

/// The same settings as a JSON object of sections (users as an array).
pub fn as_json(c: &Config) -> Value {
    let mut root = serde_json::Map::new();
    for (path, value) in settings(c) {
        let (section, key) = path.split_once('.').expect("every path has a section");
        match section.strip_prefix("users[") {
            Some(rest) => {
                let index: usize = rest.trim_end_matches(']').parse().expect("users[i]");
                let users = root.entry("users").or_insert_with(|| json!([]));
                let list = users.as_array_mut().expect("users is an array");
                if list.len() <= index {
                    list.push(json!({}));
                }
                list[index][key] = value;
            }
            None => {
                let s = root.entry(section).or_insert_with(|| json!({}));
                s[key] = value;
            }
        }
    }
    Value::Object(root)
}

/// A value as one line of text for the console.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear() {
        let c = Config::from_toml_str(
            "[database]\nhosts=[\"127.0.0.1:5432\"]\n[[users]]\nname=\"a\"\npassword=\"hunter2-secret\"\n",
        )
        .unwrap();
        let json = as_json(&c).to_string();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains(REDACTED));
        assert_eq!(as_json(&c)["users"][0]["name"], "a");
        assert_eq!(as_json(&c)["proxy"]["login_timeout"], "15s");
        assert_eq!(as_json(&c)["admin"]["listen"], Value::Null);
    }
}
