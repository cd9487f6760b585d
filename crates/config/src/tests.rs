//! Whole-file tests: parsing, defaults, and how problems are reported.

use std::net::SocketAddr;
use std::time::Duration;

use crate::*;

const MINIMAL: &str = r#"
[database]
hosts = ["127.0.0.1:5432"]

[[users]]
name = "app"
password = "pw"
"#;

const FULL_EXAMPLE: &str = include_str!("../../../examples/sluice.toml");
const MINIMAL_EXAMPLE: &str = include_str!("../../../examples/minimal.toml");

pub(crate) fn problems(toml: &str) -> Vec<String> {
    Config::from_toml_str(toml)
        .expect_err("config should be rejected")
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `MINIMAL` with `extra` lines inserted into `section` (created if absent).
pub(crate) fn with(section: &str, extra: &str) -> String {
    match section {
        "database" => MINIMAL.replace(
            "hosts = [\"127.0.0.1:5432\"]",
            &format!("hosts = [\"127.0.0.1:5432\"]\n{extra}"),
        ),
        "users" => MINIMAL.replace("password = \"pw\"", &format!("password = \"pw\"\n{extra}")),
        _ => format!("[{section}]\n{extra}\n{MINIMAL}"),
    }
}

/// The inline password of `user`; panics for a user whose password comes from a secret store.
pub(crate) fn inline_password(user: &UserConfig) -> &str {
    match &user.credentials {
        CredentialSource::Inline(p) => p.expose(),
        CredentialSource::Store(s) => panic!("{} has a secret store ({s})", user.name),
    }
}

pub(crate) fn one_problem(section: &str, extra: &str) -> String {
    let p = problems(&with(section, extra));
    assert_eq!(p.len(), 1, "expected exactly one problem, got {p:#?}");
    p.into_iter().next().expect("one problem")
}

#[test]
fn minimal_config_gets_defaults() {
    let c = Config::from_toml_str(MINIMAL).unwrap();

    let p = &c.proxy;
    assert_eq!(p.listen, "127.0.0.1:6432".parse::<SocketAddr>().unwrap());
    assert_eq!(p.max_client_connections, 10_000);
    assert_eq!(p.idle_client_timeout, Some(Duration::from_secs(1800)));
    assert_eq!(p.pool_mode, PoolMode::Transaction);
    assert_eq!(p.login_timeout, Duration::from_secs(15));
    assert_eq!(p.max_message_size, 67_108_864);
    assert_eq!(p.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(p.worker_threads, None);

    let d = &c.database;
    assert_eq!(
        d.hosts,
        vec![HostPort {
            host: "127.0.0.1".into(),
            port: 5432
        }]
    );
    assert_eq!(d.max_connections_percent, 90);
    assert_eq!(d.max_connections, None);
    assert_eq!(d.max_idle_connections_percent, 50);
    assert_eq!(d.connection_borrow_timeout, Duration::from_secs(120));
    assert_eq!(d.init_query, "");
    assert_eq!(d.server_idle_timeout, Some(Duration::from_secs(600)));
    assert_eq!(d.server_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(d.connect_timeout, Duration::from_secs(5));

    assert_eq!(c.users.len(), 1);
    let u = &c.users[0];
    assert_eq!(u.name, "app");
    assert_eq!(inline_password(u), "pw");
    assert_eq!(u.client_auth, ClientAuth::ScramSha256);
    assert!(u.databases.is_empty());
    assert!(u.may_access("anything"));

    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.log.filter, "info");
    assert!(c.log.log_connections);
    assert!(c.log.log_pins);
    assert!(c.log.log_failover);
    assert_eq!(c.log.stats_interval, Some(Duration::from_secs(60)));

    assert_eq!(c.admin.listen, None);
}

#[test]
fn admin_is_off_by_default_and_its_users_must_exist() {
    let c = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(c.admin.listen, None);
    assert!(c.admin.users.is_empty());
    assert_eq!(c.log.stats_interval, Some(Duration::from_secs(60)));
    let c = Config::from_toml_str(&with("log", "stats_interval = \"0s\"")).unwrap();
    assert_eq!(c.log.stats_interval, None);
    let c = Config::from_toml_str(&with("log", "log_pins = false\nlog_failover = false")).unwrap();
    assert!(!c.log.log_pins && !c.log.log_failover);
    for (line, want) in [
        ("users = [\"ghost\"]", "admin.users[0]: no [[users]] entry named \"ghost\": admin users log in with a configured user's password"),
        ("listen = \"localhost:9930\"", "admin.listen: invalid address \"localhost:9930\": expected \"ip:port\", e.g. \"127.0.0.1:6432\" or \"[::]:6432\""),
        ("listen = \"127.0.0.1:6432\"", "admin.listen: 127.0.0.1:6432 is already proxy.listen: pick another port"),
    ] {
        assert_eq!(one_problem("admin", line), want);
    }
    assert!(one_problem("log", "stats_interval = 60").starts_with("log.stats_interval: "));
}

#[test]
fn defaults_match_default_impls() {
    let c = Config::from_toml_str(MINIMAL).unwrap();
    let p = ProxyConfig::default();
    assert_eq!(format!("{:?}", c.proxy), format!("{p:?}"));
    assert_eq!(
        format!("{:?}", c.log),
        format!("{:?}", LogConfig::default())
    );
}

#[test]
fn full_example_parses_with_expected_values() {
    let c = Config::from_toml_str(FULL_EXAMPLE).unwrap();

    assert_eq!(
        c.proxy.listen,
        "127.0.0.1:6432".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.proxy.max_client_connections, 10_000);
    assert_eq!(c.proxy.idle_client_timeout, Some(Duration::from_secs(1800)));
    assert_eq!(c.proxy.pool_mode, PoolMode::Transaction);
    assert_eq!(c.proxy.login_timeout, Duration::from_secs(15));
    assert_eq!(c.proxy.max_message_size, 64 << 20);
    assert_eq!(c.proxy.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.proxy.worker_threads, Some(4));

    let d = &c.database;
    assert_eq!(
        d.hosts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["db-primary.internal:5432", "[fd00::10]:5432"]
    );
    assert_eq!(d.hosts[1].host, "fd00::10");
    assert_eq!(d.max_connections_percent, 90);
    assert_eq!(d.max_connections, Some(200));
    assert_eq!(d.max_idle_connections_percent, 50);
    assert_eq!(d.connection_borrow_timeout, Duration::from_secs(120));
    assert_eq!(d.init_query, "SET statement_timeout = '60s'");
    assert_eq!(d.server_idle_timeout, Some(Duration::from_secs(600)));
    assert_eq!(d.server_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(d.connect_timeout, Duration::from_secs(5));

    let app = c.user("app").unwrap();
    assert_eq!(inline_password(app), "change-me");
    assert_eq!(app.client_auth, ClientAuth::ScramSha256);
    assert_eq!(app.databases, ["appdb"]);
    assert!(app.may_access("appdb"));
    assert!(!app.may_access("postgres"));
    let rep = c.user("reporting").unwrap();
    assert_eq!(rep.client_auth, ClientAuth::Md5);
    assert!(rep.databases.is_empty());
    assert!(c.user("nobody").is_none());

    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.log.filter, "info,sluice=debug");
    assert!(c.log.log_connections);
    assert_eq!(c.log.stats_interval, Some(Duration::from_secs(60)));
    assert_eq!(
        c.admin.listen,
        Some("127.0.0.1:9930".parse::<SocketAddr>().unwrap())
    );
    assert!(c.admin.is_admin("app"));
    assert!(!c.admin.is_admin("reporting"));
}

#[test]
fn minimal_example_file_parses() {
    let c = Config::from_toml_str(MINIMAL_EXAMPLE).unwrap();
    assert_eq!(c.users[0].name, "app");
    assert_eq!(c.database.hosts[0].to_string(), "127.0.0.1:5432");
}

#[test]
fn docs_example_matches_examples_file() {
    // docs/configuration.md embeds examples/sluice.toml verbatim.
    let docs = include_str!("../../../docs/configuration.md");
    assert!(
        docs.contains(FULL_EXAMPLE.trim()),
        "docs/configuration.md must contain examples/sluice.toml verbatim"
    );
}

#[test]
fn other_values_parse() {
    let c = Config::from_toml_str(
        r#"
[proxy]
listen = "[::]:7000"
pool_mode = "session"
max_message_size = 8192
idle_client_timeout = "0s"
shutdown_timeout = "0s"

[database]
hosts = ["db", "[::1]:5433", "::1", "10.0.0.2:6000"]
max_connections_percent = 100
max_idle_connections_percent = 0
server_idle_timeout = "0s"
server_lifetime = "0ms"

[[users]]
name = "u"
password = "p"
databases = []

[log]
format = "json"
log_connections = false
filter = "warn,sluice[conn{user=u}]=trace,tokio=off"
"#,
    )
    .unwrap();
    assert_eq!(c.proxy.listen, "[::]:7000".parse::<SocketAddr>().unwrap());
    assert_eq!(c.proxy.pool_mode, PoolMode::Session);
    assert_eq!(c.proxy.max_message_size, 8192);
    assert_eq!(c.proxy.idle_client_timeout, None);
    assert_eq!(c.proxy.shutdown_timeout, Duration::ZERO);
    let hosts: Vec<String> = c.database.hosts.iter().map(ToString::to_string).collect();
    assert_eq!(
        hosts,
        ["db:5432", "[::1]:5433", "[::1]:5432", "10.0.0.2:6000"]
    );
    assert_eq!(c.database.max_idle_connections_percent, 0);
    assert_eq!(c.database.server_idle_timeout, None);
    assert_eq!(c.database.server_lifetime, None);
    assert_eq!(c.log.format, LogFormat::Json);
    assert!(!c.log.log_connections);
}

#[test]
fn byte_size_strings() {
    for (v, want) in [
        (r#""64MiB""#, 64 << 20),
        (r#""1GiB""#, 1 << 30),
        (r#""512KiB""#, 512 << 10),
        ("65536", 65536),
    ] {
        let c = Config::from_toml_str(&with("proxy", &format!("max_message_size = {v}"))).unwrap();
        assert_eq!(c.proxy.max_message_size, want, "for {v}");
    }
}

#[test]
fn secret_never_printed() {
    let c = Config::from_toml_str(&MINIMAL.replace("\"pw\"", "\"sup3r-s3cret\"")).unwrap();
    assert!(!format!("{c:?}").contains("sup3r-s3cret"));
    assert!(!format!("{c:#?}").contains("sup3r-s3cret"));
    assert!(format!("{c:?}").contains("<redacted>"));
    assert_eq!(inline_password(&c.users[0]), "sup3r-s3cret");
}

#[test]
fn secret_not_leaked_in_errors() {
    let p = problems(&with("users", "passwrd = \"sup3r-s3cret\"")).join("\n");
    assert!(p.contains("passwrd"), "{p}");
    assert!(!p.contains("sup3r-s3cret"), "{p}");
}

// ---- unknown keys and toml-level errors ----

#[test]
fn unknown_key_anywhere_is_named() {
    for (section, key, path) in [
        ("proxy", "listen_addr = \"x\"", "proxy.listen_addr"),
        ("database", "max_conns = 3", "database.max_conns"),
        ("users", "role = \"admin\"", "users[0].role"),
        ("log", "level = \"info\"", "log.level"),
    ] {
        let p = one_problem(section, key);
        let field = key.split(' ').next().unwrap();
        assert!(
            p.starts_with(&format!("{path}: unknown field `{field}`")),
            "{p}"
        );
        assert!(p.contains("(line "), "{p}");
    }
    let p = problems(&format!("[pool]\nsize = 3\n{MINIMAL}"));
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("pool: unknown field `pool`"), "{p:?}");
    let p = problems(&format!("stray = 1\n{MINIMAL}"));
    assert!(p[0].starts_with("stray: unknown field `stray`"), "{p:?}");
}

#[test]
fn unknown_key_in_second_user_has_index() {
    let src = format!("{MINIMAL}\n[[users]]\nname = \"b\"\npassword = \"x\"\nbogus = 1\n");
    let p = problems(&src);
    assert!(
        p[0].starts_with("users[1].bogus: unknown field `bogus`"),
        "{p:?}"
    );
}

#[test]
fn type_errors_come_from_toml_with_path_and_line() {
    let p = one_problem("proxy", "max_client_connections = \"many\"");
    assert!(
        p.starts_with("proxy.max_client_connections: invalid type"),
        "{p}"
    );
    assert!(p.contains("line 2"), "{p}");

    let p = one_problem("database", "max_connections = 1.5");
    assert!(
        p.starts_with("database.max_connections: invalid type"),
        "{p}"
    );

    let p = problems(
        "[database]\nhosts = [\n  \"a\",\n  5,\n]\n[[users]]\nname = \"u\"\npassword = \"p\"\n",
    );
    assert!(p[0].starts_with("database.hosts: invalid type"), "{p:?}");
    assert!(p[0].contains("line 4"), "{p:?}");
}

#[test]
fn single_users_table_gets_hint() {
    let p = problems("[database]\nhosts = [\"db\"]\n[users]\nname = \"a\"\n");
    assert!(p[0].starts_with("users: invalid type"), "{p:?}");
    assert!(p[0].contains("[[users]]"), "{p:?}");
}

#[test]
fn syntax_error_reports_line() {
    let p = problems("[database\nhosts = []\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("line 1, column "), "{p:?}");
    assert!(!p[0].contains('\n'));
}

#[test]
fn load_names_missing_path() {
    let path = std::path::Path::new("/nonexistent/dir/sluice.toml");
    let e = Config::load(path).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "/nonexistent/dir/sluice.toml");
    assert!(e.to_string().contains("cannot read config file"), "{e}");
}

#[test]
fn load_reads_file() {
    let dir = std::env::temp_dir().join(format!("sluice-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sluice.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = Config::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(c.users[0].name, "app");
}

// ---- validation: many problems at once ----

#[test]
fn reports_every_problem_together() {
    let e = Config::from_toml_str(
        r#"
[proxy]
listen = "localhost"
idle_client_timeout = "half an hour"
pool_mode = "statement"

[database]
hosts = ["db:0", "ok-host"]
max_connections_percent = 0

[[users]]
name = "app"
password = ""

[[users]]
name = "app"
password = "x"
client_auth = "trust"
"#,
    )
    .unwrap_err();
    let got: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            r#"proxy.listen: invalid address "localhost": expected "ip:port", e.g. "127.0.0.1:6432" or "[::]:6432""#,
            r#"proxy.idle_client_timeout: invalid duration "half an hour": expected e.g. "30s", "10m", "1h""#,
            r#"proxy.pool_mode: unknown value "statement": expected "transaction" or "session""#,
            r#"database.hosts[0]: invalid port "0" in "db:0": expected a number from 1 to 65535"#,
            "database.max_connections_percent: must be between 1 and 100, got 0",
            "users[0].password: must not be empty",
            r#"users[1].name: duplicate user "app" (already defined at users[0])"#,
            r#"users[1].client_auth: unknown value "trust": expected "scram-sha-256" or "md5""#,
        ]
    );
    assert_eq!(e.to_string(), got.join("\n"));
}

// ---- validation: each rule ----

#[test]
fn database_and_users_required() {
    let p = problems("");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with("database.hosts: required"), "{p:?}");
    assert!(
        p[1].starts_with("users: at least one user is required"),
        "{p:?}"
    );

    let p = problems("[database]\nhosts = []\n[[users]]\nname = \"a\"\npassword = \"b\"\n");
    assert_eq!(p, ["database.hosts: must list at least one server"]);

    let p = problems("[database]\n[[users]]\nname = \"a\"\npassword = \"b\"\n");
    assert!(p[0].starts_with("database.hosts: required"), "{p:?}");
}

#[test]
fn host_problems_name_the_index() {
    let p = problems(&MINIMAL.replace(
        r#"hosts = ["127.0.0.1:5432"]"#,
        r#"hosts = ["good", "bad host", "[::1", "h:99999"]"#,
    ));
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("database.hosts[1]: "), "{p:?}");
    assert!(p[1].starts_with("database.hosts[2]: "), "{p:?}");
    assert!(
        p[2].starts_with("database.hosts[3]: invalid port \"99999\""),
        "{p:?}"
    );
}

#[test]
fn ipv6_hosts() {
    let c =
        Config::from_toml_str(&MINIMAL.replace("127.0.0.1:5432", "[2001:db8::1]:6543")).unwrap();
    assert_eq!(
        c.database.hosts[0],
        HostPort {
            host: "2001:db8::1".into(),
            port: 6543
        }
    );
    assert_eq!(c.database.hosts[0].to_string(), "[2001:db8::1]:6543");
}

#[test]
fn user_rules() {
    let base = "[database]\nhosts = [\"db\"]\n";
    let long = "x".repeat(64);
    for (users, want) in [
        ("[[users]]\npassword = \"p\"", "users[0].name: required"),
        ("[[users]]\nname = \"a\"", "users[0].password: required: set password = \"...\" or secret = \"file:...\", \"env:...\", \"exec:...\" or \"aws:...\""),
        ("[[users]]\nname = \"\"\npassword = \"p\"", "users[0].name: must not be empty"),
        ("[[users]]\nname = \"a\"\npassword = \"\"", "users[0].password: must not be empty"),
        (
            "[[users]]\nname = \"a\\u0000\"\npassword = \"p\"",
            "users[0].name: must not contain NUL characters",
        ),
        (
            &format!("[[users]]\nname = \"{long}\"\npassword = \"p\""),
            "users[0].name: is 64 bytes long; PostgreSQL names are at most 63 bytes",
        ),
        (
            "[[users]]\nname = \"a\"\npassword = \"p\"\ndatabases = [\"ok\", \"\"]",
            "users[0].databases[1]: must not be empty",
        ),
        (
            "[[users]]\nname = \"a\"\npassword = \"p\"\n[[users]]\nname = \"b\"\npassword = \"q\"\n[[users]]\nname = \"a\"\npassword = \"r\"",
            "users[2].name: duplicate user \"a\" (already defined at users[0])",
        ),
    ] {
        assert_eq!(problems(&format!("{base}{users}\n")), [want], "for {users}");
    }
}

#[test]
fn integer_ranges() {
    for (section, line, want) in [
        (
            "proxy",
            "max_client_connections = 0",
            "proxy.max_client_connections: must be at least 1, got 0",
        ),
        (
            "proxy",
            "worker_threads = 0",
            "proxy.worker_threads: must be at least 1, got 0",
        ),
        (
            "database",
            "max_connections = -3",
            "database.max_connections: must be at least 1, got -3",
        ),
        (
            "database",
            "max_connections_percent = 101",
            "database.max_connections_percent: must be between 1 and 100, got 101",
        ),
        (
            "database",
            "max_idle_connections_percent = -1",
            "database.max_idle_connections_percent: must be between 0 and 100, got -1",
        ),
    ] {
        assert_eq!(one_problem(section, line), want);
    }
}

#[test]
fn idle_percent_must_not_exceed_max_percent() {
    assert_eq!(
        one_problem("database", "max_connections_percent = 40\nmax_idle_connections_percent = 41"),
        "database.max_idle_connections_percent: must not exceed max_connections_percent (40), got 41"
    );
    // Default max (90) applies when only idle is given.
    assert_eq!(
        one_problem("database", "max_idle_connections_percent = 95"),
        "database.max_idle_connections_percent: must not exceed max_connections_percent (90), got 95"
    );
    // Equal is fine.
    Config::from_toml_str(&with(
        "database",
        "max_connections_percent = 40\nmax_idle_connections_percent = 40",
    ))
    .unwrap();
    // An invalid max is reported once, not again via the comparison.
    assert_eq!(
        one_problem(
            "database",
            "max_connections_percent = 0\nmax_idle_connections_percent = 10"
        ),
        "database.max_connections_percent: must be between 1 and 100, got 0"
    );
}

#[test]
fn duration_rules() {
    for (section, line, want) in [
        ("proxy", "login_timeout = \"0s\"", "proxy.login_timeout: must be greater than 0"),
        ("database", "connect_timeout = \"0s\"", "database.connect_timeout: must be greater than 0"),
        ("database", "connection_borrow_timeout = \"0ms\"", "database.connection_borrow_timeout: must be greater than 0"),
        ("proxy", "login_timeout = 15", "proxy.login_timeout: expected a duration string with a unit, e.g. \"15s\", got the bare number 15"),
        ("database", "server_lifetime = \"forever\"", "database.server_lifetime: invalid duration \"forever\": expected e.g. \"30s\", \"10m\", \"1h\""),
        ("proxy", "shutdown_timeout = \"-1s\"", "proxy.shutdown_timeout: invalid duration \"-1s\": expected e.g. \"30s\", \"10m\", \"1h\""),
    ] {
        assert_eq!(one_problem(section, line), want);
    }
    let c = Config::from_toml_str(&with(
        "proxy",
        "login_timeout = \"500ms\"\nidle_client_timeout = \"1h 30m\"",
    ))
    .unwrap();
    assert_eq!(c.proxy.login_timeout, Duration::from_millis(500));
    assert_eq!(c.proxy.idle_client_timeout, Some(Duration::from_secs(5400)));
}

#[test]
fn zero_disables_optional_durations() {
    let c = Config::from_toml_str(&with(
        "database",
        "server_idle_timeout = \"0s\"\nserver_lifetime = \"0s\"",
    ))
    .unwrap();
    assert_eq!(c.database.server_idle_timeout, None);
    assert_eq!(c.database.server_lifetime, None);
    let c = Config::from_toml_str(&with("proxy", "idle_client_timeout = \"0s\"")).unwrap();
    assert_eq!(c.proxy.idle_client_timeout, None);
}

#[test]
fn message_size_rules() {
    for (line, want) in [
        ("max_message_size = 4096", "proxy.max_message_size: must be between 8 KiB and 1 GiB, got 4 KiB"),
        ("max_message_size = \"2GiB\"", "proxy.max_message_size: must be between 8 KiB and 1 GiB, got 2 GiB"),
        ("max_message_size = -1", "proxy.max_message_size: must not be negative, got -1"),
        ("max_message_size = \"64 megs\"", "proxy.max_message_size: invalid byte size \"64 megs\": expected e.g. 65536, \"64KiB\", \"64MiB\", \"1GiB\""),
    ] {
        assert_eq!(one_problem("proxy", line), want);
    }
    // The bounds themselves are allowed.
    for ok in ["\"8KiB\"", "\"1GiB\"", "8192", "1073741824"] {
        Config::from_toml_str(&with("proxy", &format!("max_message_size = {ok}"))).unwrap();
    }
}

#[test]
fn enum_and_log_rules() {
    for (section, line, want) in [
        ("log", "format = \"JSON\"", "log.format: unknown value \"JSON\": expected \"text\" or \"json\""),
        ("log", "filter = \" \"", "log.filter: must not be empty; use \"off\" to disable logging"),
        ("log", "filter = \"info,sluice=verbose\"", "log.filter: invalid level \"verbose\" in \"info,sluice=verbose\": expected one of trace, debug, info, warn, error, off"),
        ("users", "client_auth = \"scram\"", "users[0].client_auth: unknown value \"scram\": expected \"scram-sha-256\" or \"md5\""),
        ("proxy", "listen = \"127.0.0.1\"", "proxy.listen: invalid address \"127.0.0.1\": expected \"ip:port\", e.g. \"127.0.0.1:6432\" or \"[::]:6432\""),
    ] {
        assert_eq!(one_problem(section, line), want);
    }
}

#[test]
fn endpoints_parse_and_default_to_read_only() {
    let c = Config::from_toml_str(&format!(
        "{MINIMAL}\n[[endpoints]]\nname = \"reader\"\nlisten = \"127.0.0.1:6433\"\n\
         fallback_to_writer = true\n\n[[endpoints]]\nname = \"writer\"\n\
         listen = \"127.0.0.1:6434\"\nrole = \"read-write\"\n"
    ))
    .unwrap();
    assert_eq!(c.endpoints.len(), 2);
    assert_eq!(c.endpoints[0].role, EndpointRole::ReadOnly);
    assert!(c.endpoints[0].fallback_to_writer);
    assert_eq!(c.endpoints[1].role, EndpointRole::ReadWrite);
    assert_eq!(c.database.max_replica_lag, Duration::from_secs(30));
    assert!(Config::from_toml_str(MINIMAL).unwrap().endpoints.is_empty());
}

#[test]
fn endpoint_rules() {
    let p = problems(&format!(
        "{MINIMAL}\n[[endpoints]]\nlisten = \"127.0.0.1:6432\"\nrole = \"replica\"\n\n\
         [[endpoints]]\nname = \"w\"\nrole = \"read-write\"\nfallback_to_writer = true\n"
    ));
    assert_eq!(
        p,
        [
            r#"endpoints[0].name: required: a name for logs, e.g. "reader""#,
            "endpoints[0].listen: 127.0.0.1:6432 is already used by proxy.listen or another endpoint",
            r#"endpoints[0].role: unknown value "replica": expected "read-only" or "read-write""#,
            r#"endpoints[1].listen: required, e.g. "127.0.0.1:6433""#,
            r#"endpoints[1].fallback_to_writer: only applies to role = "read-only""#,
        ]
    );
}

#[test]
fn tls_defaults_and_values() {
    let c = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(c.proxy.tls, None);
    assert_eq!(c.database.tls_mode, crate::ServerTlsMode::Prefer);
    assert_eq!(c.database.server_auth, crate::ServerAuth::Any);
    let c = Config::from_toml_str(&with(
        "proxy.tls",
        "cert_file = \"a.crt\"\nkey_file = \"a.key\"\nmin_version = \"1.3\"\nrequire_tls = true",
    ))
    .unwrap();
    let tls = c.proxy.tls.expect("tls section");
    assert_eq!(tls.cert_file, std::path::Path::new("a.crt"));
    assert_eq!(tls.min_version, crate::TlsVersion::Tls13);
    assert!(tls.require_tls);
    let c = Config::from_toml_str(&with(
        "database",
        "tls_mode = \"verify-full\"\ntls_ca_file = \"ca.crt\"\nserver_auth = \"scram-sha-256\"",
    ))
    .unwrap();
    assert_eq!(c.database.tls_mode, crate::ServerTlsMode::VerifyFull);
    assert_eq!(c.database.server_auth, crate::ServerAuth::ScramSha256);
}

#[test]
fn tls_problems_name_the_key() {
    assert_eq!(
        one_problem("proxy.tls", "key_file = \"a.key\""),
        "proxy.tls.cert_file: required: the path of the PEM certificate chain"
    );
    assert!(one_problem(
        "proxy.tls",
        "cert_file = \"a\"\nkey_file = \"b\"\nmin_version = \"1.1\""
    )
    .starts_with("proxy.tls.min_version: unknown value \"1.1\""));
    assert_eq!(
        one_problem("database", "tls_mode = \"verify-ca\""),
        "database.tls_ca_file: required when tls_mode is \"verify-ca\": the PEM file of the CA \
         that signed PostgreSQL's certificate"
    );
    assert!(one_problem("database", "tls_mode = \"on\"").starts_with("database.tls_mode:"));
    assert!(one_problem("database", "server_auth = \"md5\"").starts_with("database.server_auth:"));
}
