//! Quoting values and names for the SQL Sluice writes itself (re-applying tracked settings).

/// Quotes `s` as a PostgreSQL string literal: `'...'` with `'` doubled, or, if `s` contains a
/// backslash, `E'...'` with backslashes doubled too, so that the result means `s` whatever the
/// server's `standard_conforming_strings` (the same rule as the server's `quote_literal`).
pub fn quote_literal(s: &str) -> String {
    let escape = s.contains('\\');
    let mut out = String::with_capacity(s.len() + 3);
    if escape {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || (escape && c == '\\') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Quotes `s` as an identifier when it has to be: unless it is all lower-case ASCII letters,
/// digits, `_` and `$`, starting with a letter or `_`, and is not a keyword that cannot be used
/// bare. Inside quotes, `"` is doubled.
pub fn quote_ident(s: &str) -> String {
    let bytes = s.as_bytes();
    let plain = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_lowercase() || b == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'$')
        && !is_keyword(s);
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `word` (lower case) is a keyword that cannot stand bare as a name everywhere.
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.binary_search(&word).is_ok()
}

/// Every keyword the server's own `quote_ident` quotes: the reserved, type/function-name and
/// column-name keywords of PostgreSQL 17 (`src/include/parser/kwlist.h`). Unreserved keywords such
/// as `role` or `zone` may stand bare wherever a name may. Sorted, for binary search.
const KEYWORDS: [&str; 164] = [
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::Lexer;
    use crate::literal::{ident_name, string_value};

    #[test]
    fn keywords_are_sorted_and_unique() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn literals() {
        assert_eq!(quote_literal("UTC"), "'UTC'");
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"C:\dir"), r"E'C:\\dir'");
        assert_eq!(quote_literal(r"a'\b"), r"E'a''\\b'");
        assert_eq!(quote_literal("$user, public"), "'$user, public'");
    }

    #[test]
    fn identifiers() {
        assert_eq!(quote_ident("search_path"), "search_path");
        assert_eq!(quote_ident("_x1$"), "_x1$");
        assert_eq!(quote_ident("role"), "role");
        assert_eq!(quote_ident("MyApp"), "\"MyApp\"");
        assert_eq!(quote_ident("1abc"), "\"1abc\"");
        assert_eq!(quote_ident("$x"), "\"$x\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("é"), "\"é\"");
        for keyword in [
            "select",
            "user",
            "default",
            "all",
            "time",
            "none",
            "authorization",
        ] {
            assert_eq!(quote_ident(keyword), format!("\"{keyword}\""));
        }
    }

    const SAMPLES: [&str; 12] = [
        "",
        "plain",
        "it's",
        "''",
        r"back\slash",
        r"\'",
        "\"quoted\"",
        "Mixed Case",
        "ünïcødé 😀",
        "new\nline",
        "$$dollar$$",
        "select",
    ];

    #[test]
    fn literals_round_trip_through_the_lexer() {
        for sample in SAMPLES {
            let quoted = quote_literal(sample);
            for scs in [true, false] {
                let tokens: Vec<_> =
                    Lexer::with_standard_conforming_strings(&quoted, scs).collect();
                assert_eq!(tokens.len(), 1, "{quoted}");
                assert_eq!(
                    string_value(&tokens[0], scs).as_deref(),
                    Some(sample),
                    "{quoted}"
                );
            }
        }
    }

    #[test]
    fn identifiers_round_trip_through_the_lexer() {
        for sample in SAMPLES.into_iter().filter(|s| !s.is_empty()) {
            let quoted = quote_ident(sample);
            let tokens: Vec<_> = Lexer::new(&quoted).collect();
            assert_eq!(tokens.len(), 1, "{quoted}");
            assert_eq!(ident_name(&tokens[0]).as_deref(), Some(sample), "{quoted}");
        }
    }
}
