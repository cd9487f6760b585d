//! Calls of session-affecting functions anywhere in a statement: `set_config` and the
//! session-level advisory lock functions.

use crate::effect::Effect;
use crate::lexer::{Token, TokenKind};
use crate::literal::{bool_value, ident_is, string_value};
use crate::quote::quote_literal;
use crate::stmt::Stmt;

/// Functions taking a session-level advisory lock. The `_xact_` variants release at the end of
/// the transaction and need nothing.
const LOCK_FUNCTIONS: [&str; 4] = [
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
];

/// Appends an effect for each call of a tracked function in tokens `from..` of `st`, in order.
pub(crate) fn scan(st: &Stmt<'_, '_>, from: usize, out: &mut Vec<Effect>) {
    for (k, token) in st.tokens.iter().enumerate().skip(from) {
        if token.kind == TokenKind::UnicodeIdent {
            // `U&"set\005fconfig"(...)` may be a call this crate cannot recognise.
            let call = st.punct(k + 1, b'(') || (st.kw(k + 1, "uescape") && st.punct(k + 3, b'('));
            if call {
                out.push(Effect::Unknown {
                    reason: "function called by a Unicode-escaped name",
                });
            }
            continue;
        }
        if !st.punct(k + 1, b'(') || !in_pg_catalog(st, k) {
            continue;
        }
        if ident_is(token, "set_config") {
            out.extend(set_config(st, k + 2));
        } else if LOCK_FUNCTIONS.iter().any(|f| ident_is(token, f)) {
            out.push(Effect::AdvisoryLock);
        } else if ident_is(token, "pg_advisory_unlock_all") {
            out.push(Effect::AdvisoryUnlockAll);
        }
    }
}

/// Whether the function name at token `k` is unqualified or qualified with `pg_catalog`; any other
/// schema holds a different function of the same name.
fn in_pg_catalog(st: &Stmt<'_, '_>, k: usize) -> bool {
    if k == 0 || !st.punct(k - 1, b'.') {
        return true;
    }
    k >= 2 && st.get(k - 2).is_some_and(|t| ident_is(t, "pg_catalog"))
}

/// The effect of `set_config(` whose arguments start at token `args`.
fn set_config(st: &Stmt<'_, '_>, args: usize) -> Option<Effect> {
    let scs = st.standard_conforming_strings;
    let arguments = split_arguments(st.tokens.get(args..).unwrap_or_default());
    if let [name, value, local] = arguments.as_slice() {
        let local = literal(local).and_then(|t| bool_value(&t, scs));
        let name = literal(name).and_then(|t| string_value(&t, scs));
        let value = literal(value).and_then(|t| string_value(&t, scs));
        match (name, value, local) {
            (Some(name), Some(value), Some(local)) => {
                return Some(literal_call(name, value, local))
            }
            // A transaction-local setting ends with the transaction, during which the client
            // keeps its server connection: whatever the values, nothing outlives it.
            (_, _, Some(true)) => return None,
            _ => {}
        }
    }
    Some(Effect::Unknown {
        reason: "set_config with non-literal arguments",
    })
}

/// The token of an argument that is a single token.
fn literal<'a>(arg: &[Token<'a>]) -> Option<Token<'a>> {
    match arg {
        [single] => Some(*single),
        _ => None,
    }
}

fn literal_call(name: String, value: String, local: bool) -> Effect {
    // The role settings are the role commands under another spelling; report them as such so
    // they pin like `SET ROLE` does.
    match name.to_ascii_lowercase().as_str() {
        "role" if !local => Effect::SetRole {
            value: quote_literal(&value),
        },
        "session_authorization" if !local => Effect::SetSessionAuthorization {
            value: quote_literal(&value),
        },
        _ => Effect::SetConfig { name, value, local },
    }
}

/// Splits the tokens after an opening `(` into top-level, comma-separated arguments, up to the
/// matching `)`. At most four are kept: more already means it is not a literal 3-argument call.
fn split_arguments<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut arguments = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.is_punct(b'(') || token.is_punct(b'[') {
            depth += 1;
        } else if (token.is_punct(b')') || token.is_punct(b']')) && depth > 0 {
            depth -= 1;
        } else if depth == 0 && (token.is_punct(b',') || token.is_punct(b')')) {
            arguments.push(&tokens[start..i]);
            start = i + 1;
            if token.is_punct(b')') || arguments.len() > 3 {
                return arguments;
            }
        }
    }
    // No closing parenthesis: a syntax error; an odd argument count makes it unknown.
    arguments.push(&tokens[start..]);
    arguments.push(&[]);
    arguments
}

#[cfg(test)]
mod tests {
    use crate::{classify, Effect};

    fn set_config(name: &str, value: &str, local: bool) -> Effect {
        Effect::SetConfig {
            name: name.into(),
            value: value.into(),
            local,
        }
    }

    const NON_LITERAL: Effect = Effect::Unknown {
        reason: "set_config with non-literal arguments",
    };

    #[test]
    fn literal_set_config() {
        assert_eq!(
            classify("SELECT set_config('search_path', 'a,b', false)"),
            vec![set_config("search_path", "a,b", false)]
        );
        assert_eq!(
            classify("SELECT pg_catalog.set_config('search_path', 'a', false)"),
            vec![set_config("search_path", "a", false)]
        );
        assert_eq!(
            classify("select SET_CONFIG ( 'App.X' , 'it''s' , true ) ;"),
            vec![set_config("App.X", "it's", true)]
        );
        assert_eq!(
            classify("SELECT \"pg_catalog\".\"set_config\"(E'a\\tb', $$v$$, 'f')"),
            vec![set_config("a\tb", "v", false)]
        );
        for local in ["'t'", "'true'", "TRUE", "'on'"] {
            assert_eq!(
                classify(&format!("SELECT set_config('a', 'b', {local})")),
                vec![set_config("a", "b", true)],
                "{local}"
            );
        }
        for session in ["'f'", "'false'", "False", "'off'"] {
            assert_eq!(
                classify(&format!("SELECT set_config('a', 'b', {session})")),
                vec![set_config("a", "b", false)],
                "{session}"
            );
        }
    }

    #[test]
    fn set_config_in_larger_statements() {
        assert_eq!(
            classify("SELECT 1, set_config('a', '1', false), set_config('b', '2', true) FROM t"),
            vec![set_config("a", "1", false), set_config("b", "2", true)]
        );
        assert_eq!(
            classify("WITH x AS (SELECT set_config('a', '1', false)) SELECT * FROM x"),
            vec![set_config("a", "1", false)]
        );
        assert_eq!(
            classify("SELECT count(*), lower(set_config('a','1',false)) FROM t"),
            vec![set_config("a", "1", false)]
        );
    }

    #[test]
    fn non_literal_set_config_is_unknown() {
        for sql in [
            "SELECT set_config('search_path', current_setting('search_path') || ',x', false)",
            "SELECT set_config($1, $2, false)",
            "SELECT set_config('a', 'b', $1)",
            "SELECT set_config('a', 'b'::text, false)",
            "SELECT set_config('a', 'b', false::bool)",
            "SELECT set_config(name, value, false) FROM settings",
            "SELECT set_config('a', 'b')",
            "SELECT set_config('a', 'b', false, 1)",
            "SELECT set_config('a', U&'b', false)",
            "SELECT set_config('a', 'b', 'maybe')",
            "SELECT set_config('a', 'b', false",
            "SELECT set_config(",
        ] {
            assert_eq!(classify(sql), vec![NON_LITERAL], "{sql}");
        }
    }

    #[test]
    fn transaction_local_set_config_with_non_literals_is_ignored() {
        for sql in [
            "SELECT set_config('request.jwt.claims', $1, true)",
            "SELECT set_config($1, $2, 'true')",
            "select set_config('app.user', (SELECT id FROM users LIMIT 1)::text, TRUE)",
        ] {
            assert_eq!(classify(sql), vec![], "{sql}");
        }
    }

    #[test]
    fn role_through_set_config() {
        assert_eq!(
            classify("SELECT set_config('role', 'admin', false)"),
            vec![Effect::SetRole {
                value: "'admin'".into()
            }]
        );
        assert_eq!(
            classify("SELECT set_config('session_authorization', 'bob', false)"),
            vec![Effect::SetSessionAuthorization {
                value: "'bob'".into()
            }]
        );
        assert_eq!(
            classify("SELECT set_config('role', 'admin', true)"),
            vec![set_config("role", "admin", true)]
        );
    }

    #[test]
    fn other_schemas_and_non_calls_are_ignored() {
        for sql in [
            "SELECT myschema.set_config('a', 'b', false)",
            "SELECT \"SET_CONFIG\"('a', 'b', false)",
            "SELECT set_config FROM t",
            "SELECT 'set_config(1)'",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_xact_lock(1)",
            "SELECT pg_advisory_unlock(1)",
            "SELECT app.pg_advisory_lock(1)",
        ] {
            assert_eq!(classify(sql), vec![], "{sql}");
        }
    }

    #[test]
    fn advisory_locks() {
        for sql in [
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_ADVISORY_LOCK(1, 2)",
            "select pg_advisory_lock_shared(42)",
            "SELECT pg_try_advisory_lock(hashtext('job'))",
            "SELECT pg_catalog.pg_try_advisory_lock_shared(1)",
            "SELECT * FROM jobs WHERE pg_try_advisory_lock(id) LIMIT 1",
        ] {
            assert_eq!(classify(sql), vec![Effect::AdvisoryLock], "{sql}");
        }
        assert_eq!(
            classify("SELECT pg_advisory_unlock_all()"),
            vec![Effect::AdvisoryUnlockAll]
        );
        assert_eq!(
            classify("SELECT pg_advisory_lock(1); SELECT pg_advisory_unlock_all()"),
            vec![Effect::AdvisoryLock, Effect::AdvisoryUnlockAll]
        );
    }

    #[test]
    fn unicode_escaped_function_names_are_unknown() {
        let unknown = Effect::Unknown {
            reason: "function called by a Unicode-escaped name",
        };
        assert_eq!(
            classify(r#"SELECT U&"set\005fconfig"('a', 'b', false)"#),
            vec![unknown.clone()]
        );
        assert_eq!(
            classify(r#"SELECT U&"set!005fconfig" UESCAPE '!' ('a', 'b', false)"#),
            vec![unknown]
        );
        assert_eq!(classify(r#"SELECT U&"col" FROM t"#), vec![]);
        assert_eq!(classify(r#"SELECT U&"c!0041" UESCAPE '!' FROM t"#), vec![]);
    }
}
