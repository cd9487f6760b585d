//! `SET` and `RESET` statements (the grammar's `VariableSetStmt` and `VariableResetStmt`).

use crate::effect::Effect;
use crate::stmt::Stmt;

const UNRECOGNIZED: Effect = Effect::Unknown {
    reason: "unrecognized SET statement",
};

/// Classifies a statement whose first token is `SET`.
pub(crate) fn set(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    let mut i = 1;
    let mut local = false;
    // `LOCAL` and `SESSION` are modifiers unless they are the setting's name (`SET local.x = 1`)
    // or start `SESSION AUTHORIZATION` / `SESSION CHARACTERISTICS`.
    let modifier_follows = !st.is_assign(i + 1) && !st.punct(i + 1, b'.');
    if st.kw(i, "local") && modifier_follows {
        local = true;
        i += 1;
    } else if st.kw(i, "session")
        && modifier_follows
        && !st.kw(i + 1, "authorization")
        && !st.kw(i + 1, "characteristics")
    {
        i += 1;
    }
    // Keyword forms only apply when the word is not followed by `TO`, `=` or `.`, which would
    // make it a setting's name (`SET role = x` is also a role change, handled below).
    let keyword_form = !st.is_assign(i + 1) && !st.punct(i + 1, b'.');
    if keyword_form {
        if let Some(effect) = special_form(st, i, local) {
            out.extend(effect);
            return;
        }
    }
    out.extend(generic(st, i, local));
}

/// The forms with their own syntax. `Some(None)` means "recognised, no session effect".
fn special_form(st: &Stmt<'_, '_>, i: usize, local: bool) -> Option<Option<Effect>> {
    let set = |name: &str, value: String| Effect::Set {
        name: name.to_owned(),
        value,
        local,
    };
    let effect = if st.kw(i, "transaction") {
        // SET TRANSACTION ... and SET TRANSACTION SNAPSHOT: this transaction only.
        None
    } else if st.kw(i, "constraints") || st.kw(i, "catalog") {
        // SET CONSTRAINTS is transaction-local; SET CATALOG is always an error.
        None
    } else if st.kw(i, "session") && st.kw(i + 1, "characteristics") {
        Some(Effect::Unknown {
            reason: "SET SESSION CHARACTERISTICS",
        })
    } else if st.kw(i, "session") && st.kw(i + 1, "authorization") {
        let value = keyword_value(st, i + 2, &["default"])?;
        Some(if local {
            set("session_authorization", value)
        } else {
            Effect::SetSessionAuthorization { value }
        })
    } else if st.kw(i, "role") {
        let value = keyword_value(st, i + 1, &["none"])?;
        Some(if local {
            set("role", value)
        } else {
            Effect::SetRole { value }
        })
    } else if st.kw(i, "time") && st.kw(i + 1, "zone") {
        Some(time_zone(st, i + 2, local))
    } else if st.kw(i, "schema") {
        Some(set("search_path", nonempty(st.text_from(i + 1))?))
    } else if st.kw(i, "names") {
        // `SET NAMES` alone means the default encoding.
        let value = if st.len() == i + 1 {
            "DEFAULT".to_owned()
        } else {
            keyword_value(st, i + 1, &["default"])?
        };
        Some(set("client_encoding", value))
    } else if st.kw(i, "xml") && st.kw(i + 1, "option") {
        Some(set("xmloption", nonempty(st.text_from(i + 2))?))
    } else {
        return None;
    };
    Some(effect)
}

/// `SET TIME ZONE value`: `LOCAL` and `DEFAULT` mean the default; an `INTERVAL` value cannot be
/// written back as `SET timezone TO ...`, so it is unknown.
fn time_zone(st: &Stmt<'_, '_>, i: usize, local: bool) -> Effect {
    let value = if st.only_kw(i, "local") || st.only_kw(i, "default") {
        "DEFAULT".to_owned()
    } else if st.kw(i, "interval") {
        return Effect::Unknown {
            reason: "SET TIME ZONE INTERVAL",
        };
    } else {
        match nonempty(st.text_from(i)) {
            Some(value) => value,
            None => return UNRECOGNIZED,
        }
    };
    Effect::Set {
        name: "timezone".to_owned(),
        value,
        local,
    }
}

/// `SET [LOCAL|SESSION] name {TO|=} value[, ...]` with the name at token `i`.
fn generic(st: &Stmt<'_, '_>, i: usize, local: bool) -> Option<Effect> {
    let Some((name, next)) = st.dotted_name(i) else {
        return Some(st.undecodable_name(i).unwrap_or(UNRECOGNIZED));
    };
    if st.kw(next, "from") && st.only_kw(next + 1, "current") {
        // SET name FROM CURRENT keeps the current value.
        return None;
    }
    if !st.is_assign(next) {
        return Some(UNRECOGNIZED);
    }
    let Some(value) = keyword_value(st, next + 1, &["default"]) else {
        return Some(UNRECOGNIZED);
    };
    // These two settings are the role commands under another spelling.
    Some(match name.as_str() {
        "role" if !local => Effect::SetRole {
            value: if value == "DEFAULT" {
                "NONE".to_owned()
            } else {
                value
            },
        },
        "session_authorization" if !local => Effect::SetSessionAuthorization { value },
        _ => Effect::Set { name, value, local },
    })
}

/// The value text from token `i`, with a lone keyword from `keywords` written in upper case (so
/// `default` and `DEFAULT` both give `DEFAULT`). `None` if there is no value.
fn keyword_value(st: &Stmt<'_, '_>, i: usize, keywords: &[&str]) -> Option<String> {
    if let Some(word) = keywords.iter().find(|w| st.only_kw(i, w)) {
        return Some(word.to_ascii_uppercase());
    }
    nonempty(st.text_from(i))
}

fn nonempty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Classifies a statement whose first token is `RESET`.
pub(crate) fn reset(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    let effect = if st.only_kw(1, "all") {
        Some(Effect::ResetAll)
    } else if st.kw(1, "time") && st.kw(2, "zone") {
        Some(Effect::Reset {
            name: "timezone".to_owned(),
        })
    } else if st.kw(1, "session") && st.kw(2, "authorization") {
        Some(session_authorization_default())
    } else if st.kw(1, "transaction") && st.kw(2, "isolation") {
        // RESET TRANSACTION ISOLATION LEVEL: this transaction only.
        None
    } else {
        match st.dotted_name(1) {
            Some((name, _)) => Some(match name.as_str() {
                "role" => Effect::SetRole {
                    value: "NONE".to_owned(),
                },
                "session_authorization" => session_authorization_default(),
                _ => Effect::Reset { name },
            }),
            None => Some(st.undecodable_name(1).unwrap_or(UNRECOGNIZED)),
        }
    };
    out.extend(effect);
}

fn session_authorization_default() -> Effect {
    Effect::SetSessionAuthorization {
        value: "DEFAULT".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{classify, Effect};

    fn set(name: &str, value: &str) -> Effect {
        Effect::Set {
            name: name.into(),
            value: value.into(),
            local: false,
        }
    }

    fn set_local(name: &str, value: &str) -> Effect {
        Effect::Set {
            name: name.into(),
            value: value.into(),
            local: true,
        }
    }

    fn one(sql: &str) -> Effect {
        let mut effects = classify(sql);
        assert_eq!(effects.len(), 1, "{sql}: {effects:?}");
        effects.remove(0)
    }

    #[test]
    fn generic_set() {
        assert_eq!(
            one("SET search_path TO public"),
            set("search_path", "public")
        );
        assert_eq!(
            one("set Search_Path = \"$user\", public"),
            set("search_path", "\"$user\", public")
        );
        assert_eq!(
            one("SET SESSION timezone = 'UTC';"),
            set("timezone", "'UTC'")
        );
        assert_eq!(
            one("SET statement_timeout=0"),
            set("statement_timeout", "0")
        );
        assert_eq!(
            one("SET extra_float_digits = -1"),
            set("extra_float_digits", "-1")
        );
        assert_eq!(one("SET x=-1.5e3"), set("x", "-1.5e3"));
        assert_eq!(
            one("  SET  work_mem  TO  '64MB'  -- why\n"),
            set("work_mem", "'64MB'")
        );
        assert_eq!(
            one("SET datestyle = iso, mdy"),
            set("datestyle", "iso, mdy")
        );
        assert_eq!(one("SET x = $$v$$"), set("x", "$$v$$"));
        assert_eq!(one("SET x = E'a\\'b'"), set("x", "E'a\\'b'"));
    }

    #[test]
    fn local_set() {
        assert_eq!(
            one("SET LOCAL search_path = a"),
            set_local("search_path", "a")
        );
        assert_eq!(
            one("set local statement_timeout to 5"),
            set_local("statement_timeout", "5")
        );
        assert_eq!(
            one("SET LOCAL TIME ZONE 'UTC'"),
            set_local("timezone", "'UTC'")
        );
    }

    #[test]
    fn names_are_folded_unless_quoted_and_may_be_dotted() {
        assert_eq!(
            one("SET \"MyApp\".User_Id = 42"),
            set("MyApp.user_id", "42")
        );
        assert_eq!(one("SET app . tenant = 'a'"), set("app.tenant", "'a'"));
        assert_eq!(one("SET local.x = 1"), set("local.x", "1"));
        assert_eq!(one("SET session.x = 1"), set("session.x", "1"));
    }

    #[test]
    fn set_to_default() {
        assert_eq!(
            one("SET search_path TO DEFAULT"),
            set("search_path", "DEFAULT")
        );
        assert_eq!(one("set work_mem = default"), set("work_mem", "DEFAULT"));
        // A string is not the keyword.
        assert_eq!(one("SET x = 'default'"), set("x", "'default'"));
    }

    #[test]
    fn time_zone() {
        assert_eq!(
            one("SET TIME ZONE 'Europe/Paris'"),
            set("timezone", "'Europe/Paris'")
        );
        assert_eq!(one("set time zone utc"), set("timezone", "utc"));
        assert_eq!(one("SET TIME ZONE -7"), set("timezone", "-7"));
        assert_eq!(one("SET TIME ZONE LOCAL"), set("timezone", "DEFAULT"));
        assert_eq!(one("SET TIME ZONE default"), set("timezone", "DEFAULT"));
        assert_eq!(
            one("SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE"),
            Effect::Unknown {
                reason: "SET TIME ZONE INTERVAL"
            }
        );
    }

    #[test]
    fn schema_names_and_xml_option() {
        assert_eq!(one("SET SCHEMA 'app'"), set("search_path", "'app'"));
        assert_eq!(one("SET NAMES 'UTF8'"), set("client_encoding", "'UTF8'"));
        assert_eq!(one("SET NAMES"), set("client_encoding", "DEFAULT"));
        assert_eq!(one("SET NAMES DEFAULT"), set("client_encoding", "DEFAULT"));
        assert_eq!(one("SET XML OPTION DOCUMENT"), set("xmloption", "DOCUMENT"));
        // The settings themselves, by name.
        assert_eq!(one("SET schema = 'x'"), set("schema", "'x'"));
        assert_eq!(one("SET names TO 'x'"), set("names", "'x'"));
    }

    #[test]
    fn role() {
        let role = |v: &str| Effect::SetRole { value: v.into() };
        assert_eq!(one("SET ROLE admin"), role("admin"));
        assert_eq!(one("set session role 'admin'"), role("'admin'"));
        assert_eq!(one("SET ROLE NONE"), role("NONE"));
        assert_eq!(one("SET ROLE none"), role("NONE"));
        assert_eq!(one("SET ROLE \"Admin\""), role("\"Admin\""));
        assert_eq!(one("SET role = admin"), role("admin"));
        assert_eq!(one("SET role TO DEFAULT"), role("NONE"));
        assert_eq!(one("RESET ROLE"), role("NONE"));
        assert_eq!(one("reset role"), role("NONE"));
        assert_eq!(one("SET LOCAL ROLE admin"), set_local("role", "admin"));
        assert_eq!(one("SET LOCAL role = admin"), set_local("role", "admin"));
    }

    #[test]
    fn session_authorization() {
        let auth = |v: &str| Effect::SetSessionAuthorization { value: v.into() };
        assert_eq!(one("SET SESSION AUTHORIZATION bob"), auth("bob"));
        assert_eq!(
            one("SET SESSION SESSION AUTHORIZATION 'bob'"),
            auth("'bob'")
        );
        assert_eq!(one("set session authorization default"), auth("DEFAULT"));
        assert_eq!(one("SET session_authorization = bob"), auth("bob"));
        assert_eq!(one("RESET SESSION AUTHORIZATION"), auth("DEFAULT"));
        assert_eq!(one("RESET session_authorization"), auth("DEFAULT"));
        assert_eq!(
            one("SET LOCAL SESSION AUTHORIZATION bob"),
            set_local("session_authorization", "bob")
        );
    }

    #[test]
    fn transaction_scoped_forms_are_ignored() {
        for sql in [
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET TRANSACTION READ ONLY",
            "SET LOCAL TRANSACTION READ ONLY",
            "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
            "SET CONSTRAINTS ALL DEFERRED",
            "SET search_path FROM CURRENT",
            "RESET TRANSACTION ISOLATION LEVEL",
        ] {
            assert_eq!(classify(sql), vec![], "{sql}");
        }
    }

    #[test]
    fn session_characteristics_are_unknown() {
        assert_eq!(
            one("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Effect::Unknown {
                reason: "SET SESSION CHARACTERISTICS"
            }
        );
    }

    #[test]
    fn malformed_set_is_unknown() {
        for sql in [
            "SET",
            "SET x",
            "SET x =",
            "SET 'x' = 1",
            "SET x y",
            "RESET",
            "RESET 1",
        ] {
            assert_eq!(
                classify(sql),
                vec![Effect::Unknown {
                    reason: "unrecognized SET statement"
                }],
                "{sql}"
            );
        }
        assert_eq!(
            one(r#"SET U&"x" = 1"#),
            Effect::Unknown {
                reason: "Unicode-escaped identifier"
            }
        );
    }

    #[test]
    fn reset() {
        let reset = |n: &str| Effect::Reset { name: n.into() };
        assert_eq!(one("RESET search_path"), reset("search_path"));
        assert_eq!(one("reset Statement_Timeout;"), reset("statement_timeout"));
        assert_eq!(one("RESET TIME ZONE"), reset("timezone"));
        assert_eq!(one("RESET timezone"), reset("timezone"));
        assert_eq!(one("RESET app.tenant"), reset("app.tenant"));
        assert_eq!(one("RESET \"all\""), reset("all"));
        assert_eq!(one("RESET ALL"), Effect::ResetAll);
        assert_eq!(one("reset all;"), Effect::ResetAll);
    }

    #[test]
    fn set_only_counts_at_the_start_of_a_statement() {
        for sql in [
            "UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3",
            "ALTER ROLE app SET search_path = x",
            "ALTER DATABASE d SET timezone TO 'UTC'",
            "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = x AS 'SELECT 1'",
            "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2",
            "SHOW search_path",
        ] {
            assert_eq!(classify(sql), vec![], "{sql}");
            // Not only the pre-check: the full path agrees.
            assert_eq!(crate::classify::classify_all(sql, true), vec![], "{sql}");
        }
    }
}
