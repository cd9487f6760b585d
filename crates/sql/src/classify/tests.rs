use crate::{classify, classify_with, DiscardWhat, Effect, Options, TransactionControl};
use TransactionControl::*;

fn tx(control: TransactionControl) -> Effect {
    Effect::Transaction(control)
}

fn assert_each(expected: Effect, sqls: &[&str]) {
    for sql in sqls {
        assert_eq!(classify(sql), vec![expected.clone()], "{sql}");
    }
}

/// No effect, and not only because the pre-check said so: the full path agrees.
fn assert_none(sqls: &[&str]) {
    for sql in sqls {
        assert_eq!(classify(sql), vec![], "{sql}");
        assert_eq!(super::classify_all(sql, true), vec![], "{sql}");
    }
}

#[test]
fn prepare_keeps_the_text_verbatim() {
    let sql = "PREPARE Get_User (int, text) AS\n  SELECT * FROM users WHERE id = $1 AND name = $2";
    assert_eq!(
        classify(sql),
        vec![Effect::Prepare {
            name: "get_user".into(),
            text: sql.into(),
        }]
    );
    assert_eq!(
        classify("  /* lead */ prepare \"P1\" as select 1 ; -- tail"),
        vec![Effect::Prepare {
            name: "P1".into(),
            text: "prepare \"P1\" as select 1".into(),
        }]
    );
    assert_eq!(
        classify("PREPARE transaction AS SELECT 1"),
        vec![Effect::Prepare {
            name: "transaction".into(),
            text: "PREPARE transaction AS SELECT 1".into(),
        }]
    );
    assert_none(&["PREPARE p", "PREPARE"]);
}

#[test]
fn prepare_of_a_session_changing_statement_is_also_unknown() {
    let sql = "PREPARE lock(int) AS SELECT pg_advisory_lock($1)";
    assert_eq!(
        classify(sql),
        vec![
            Effect::Prepare {
                name: "lock".into(),
                text: sql.into(),
            },
            Effect::Unknown {
                reason: "prepared statement changes session state when executed",
            },
        ]
    );
}

#[test]
fn prepare_transaction_is_transaction_control() {
    assert_each(
        tx(PrepareTransaction),
        &["PREPARE TRANSACTION 'gid-1'", "prepare transaction $$x$$"],
    );
}

#[test]
fn execute() {
    let execute = Effect::Execute { name: "p".into() };
    assert_each(
        execute.clone(),
        &["EXECUTE p", "execute P (1, 'a')", "EXECUTE p;"],
    );
    assert_eq!(
        classify("EXECUTE \"Q\""),
        vec![Effect::Execute { name: "Q".into() }]
    );
    assert_eq!(
        classify("EXECUTE p(set_config('a', 'b', false))"),
        vec![
            execute,
            Effect::SetConfig {
                name: "a".into(),
                value: "b".into(),
                local: false
            }
        ]
    );
    assert_none(&["CREATE TABLE t AS EXECUTE p", "EXPLAIN EXECUTE p"]);
}

#[test]
fn deallocate() {
    let named = Effect::Deallocate {
        name: Some("p".into()),
    };
    assert_each(
        named,
        &["DEALLOCATE p", "deallocate PREPARE p", "DEALLOCATE P;"],
    );
    assert_each(
        Effect::Deallocate { name: None },
        &["DEALLOCATE ALL", "deallocate prepare all"],
    );
    assert_each(
        Effect::Deallocate {
            name: Some("prepare".into()),
        },
        &["DEALLOCATE prepare"],
    );
    assert_each(
        Effect::Deallocate {
            name: Some("all".into()),
        },
        &["DEALLOCATE \"all\""],
    );
}

#[test]
fn discard() {
    assert_each(
        Effect::Discard(DiscardWhat::All),
        &["DISCARD ALL", "discard all;"],
    );
    assert_each(Effect::Discard(DiscardWhat::Plans), &["DISCARD PLANS"]);
    assert_each(
        Effect::Discard(DiscardWhat::Sequences),
        &["Discard Sequences"],
    );
    assert_each(
        Effect::Discard(DiscardWhat::Temp),
        &["DISCARD TEMP", "DISCARD TEMPORARY"],
    );
    assert_none(&["DISCARD", "DISCARD everything"]);
}

#[test]
fn listen_and_unlisten() {
    assert_each(
        Effect::Listen {
            channel: "jobs".into(),
        },
        &["LISTEN jobs", "listen JOBS;", "LISTEN \"jobs\""],
    );
    assert_each(
        Effect::Listen {
            channel: "Jobs".into(),
        },
        &["LISTEN \"Jobs\""],
    );
    assert_each(
        Effect::Unlisten {
            channel: Some("jobs".into()),
        },
        &["UNLISTEN jobs", "unlisten Jobs"],
    );
    assert_each(
        Effect::Unlisten { channel: None },
        &["UNLISTEN *", "unlisten *;"],
    );
    assert_each(
        Effect::Unknown {
            reason: "Unicode-escaped identifier",
        },
        &[r#"LISTEN U&"j\0061""#],
    );
    assert_none(&["LISTEN", "NOTIFY jobs", "SELECT pg_notify('jobs', 'x')"]);
}

#[test]
fn create_temp() {
    assert_each(
        Effect::CreateTemp,
        &[
            "CREATE TEMP TABLE t (x int)",
            "create temporary table t (x int) on commit drop",
            "CREATE GLOBAL TEMPORARY TABLE t (x int)",
            "CREATE LOCAL TEMP TABLE t AS SELECT 1",
            "CREATE TEMP SEQUENCE s",
            "CREATE TEMP VIEW v AS SELECT 1",
            "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
            "CREATE TEMP RECURSIVE VIEW v (n) AS SELECT 1",
            "CREATE TABLE pg_temp.t (x int)",
            "CREATE VIEW v AS SELECT * FROM pg_temp.t",
            "CREATE FUNCTION pg_temp.f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
        ],
    );
    assert_none(&[
        "CREATE TABLE t (x int)",
        "CREATE UNLOGGED TABLE t (x int)",
        "CREATE TABLE temp (x int)",
        "CREATE TABLE t (temp int)",
        "DROP TABLE temp",
        "SELECT * FROM temp",
        "CREATE DATABASE d TEMPLATE template0",
    ]);
}

#[test]
fn create_temp_table_as_runs_its_query() {
    assert_eq!(
        classify("CREATE TEMP TABLE t AS SELECT pg_advisory_lock(1)"),
        vec![Effect::CreateTemp, Effect::AdvisoryLock]
    );
    // Definitions do not run the calls in their bodies.
    assert_eq!(
        classify("CREATE TEMP VIEW v AS SELECT pg_advisory_lock(1)"),
        vec![Effect::CreateTemp]
    );
    assert_none(&[
        "CREATE VIEW v AS SELECT set_config('a', 'b', false)",
        "CREATE OR REPLACE FUNCTION f() RETURNS bigint LANGUAGE sql \
         BEGIN ATOMIC SELECT pg_advisory_lock(1); END",
        "CREATE FUNCTION f() RETURNS void AS $$ SELECT pg_advisory_lock(1) $$ LANGUAGE sql",
        "CREATE RULE r AS ON INSERT TO t DO ALSO SELECT pg_advisory_lock(1)",
    ]);
}

#[test]
fn select_into_temp() {
    assert_each(
        Effect::CreateTemp,
        &[
            "SELECT * INTO TEMP t FROM src",
            "select 1 as x into temporary table t",
            "SELECT * INTO LOCAL TEMP t FROM src",
            "SELECT * INTO GLOBAL TEMPORARY \"T\" FROM src",
            "SELECT * INTO pg_temp.t FROM src",
            "WITH s AS (SELECT 1) SELECT * INTO TEMP t FROM s",
            "(SELECT 1 INTO TEMP t)",
        ],
    );
    assert_none(&[
        "SELECT * INTO t FROM src",
        "SELECT * INTO temp FROM src",
        "INSERT INTO temp VALUES (1)",
        "INSERT INTO temp t VALUES (1)",
        "WITH x AS (INSERT INTO temp VALUES (1) RETURNING *) SELECT * FROM x",
        "MERGE INTO temp t USING s ON true WHEN MATCHED THEN DELETE",
    ]);
}

#[test]
fn declare_with_hold() {
    assert_each(
        Effect::DeclareWithHold,
        &[
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "declare c binary no scroll cursor with hold for select 1",
            "DECLARE \"C\" INSENSITIVE SCROLL CURSOR WITH HOLD FOR SELECT * FROM t",
        ],
    );
    assert_none(&[
        "DECLARE c CURSOR FOR SELECT 1",
        "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
        "DECLARE c CURSOR FOR WITH hold AS (SELECT 1) SELECT * FROM hold",
    ]);
}

#[test]
fn close_cursor() {
    assert_each(
        Effect::CloseCursor {
            name: Some("c".into()),
        },
        &["CLOSE c", "close C;"],
    );
    assert_each(
        Effect::CloseCursor { name: None },
        &["CLOSE ALL", "close all"],
    );
}

#[test]
fn load() {
    assert_each(
        Effect::Load,
        &["LOAD 'auto_explain'", "load '$libdir/plugins/x'"],
    );
}

#[test]
fn transaction_control() {
    assert_each(
        tx(Begin),
        &[
            "BEGIN",
            "begin;",
            "BEGIN WORK",
            "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "START TRANSACTION",
            "start transaction read only",
        ],
    );
    assert_each(
        tx(Commit),
        &[
            "COMMIT",
            "commit work",
            "COMMIT TRANSACTION",
            "END",
            "end;",
            "COMMIT AND CHAIN",
        ],
    );
    assert_each(
        tx(Rollback),
        &[
            "ROLLBACK",
            "rollback work",
            "ABORT",
            "abort transaction",
            "ROLLBACK AND NO CHAIN",
        ],
    );
    assert_each(tx(Savepoint), &["SAVEPOINT a", "savepoint \"A\""]);
    assert_each(tx(Release), &["RELEASE a", "RELEASE SAVEPOINT a"]);
    assert_each(
        tx(RollbackToSavepoint),
        &[
            "ROLLBACK TO a",
            "ROLLBACK TO SAVEPOINT a",
            "rollback work to savepoint a",
            "ROLLBACK TRANSACTION TO a",
        ],
    );
    assert_each(tx(CommitPrepared), &["COMMIT PREPARED 'gid'"]);
    assert_each(tx(RollbackPrepared), &["ROLLBACK PREPARED 'gid'"]);
    assert_none(&["START", "START something"]);
}

#[test]
fn several_statements_in_order() {
    assert_eq!(
        classify(
            "BEGIN; SET LOCAL statement_timeout = 5; SELECT pg_advisory_lock(1); \
             LISTEN q; COMMIT; RESET ALL"
        ),
        vec![
            tx(Begin),
            Effect::Set {
                name: "statement_timeout".into(),
                value: "5".into(),
                local: true
            },
            Effect::AdvisoryLock,
            Effect::Listen {
                channel: "q".into()
            },
            tx(Commit),
            Effect::ResetAll,
        ]
    );
    assert_eq!(
        classify("SELECT 1;;; DISCARD ALL ;SELECT 2;set x=1"),
        vec![
            Effect::Discard(DiscardWhat::All),
            Effect::Set {
                name: "x".into(),
                value: "1".into(),
                local: false
            }
        ]
    );
}

#[test]
fn routine_bodies_do_not_split_statements() {
    assert_eq!(
        classify(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC \
             SELECT 1; SELECT CASE WHEN true THEN 2 END; END; ROLLBACK"
        ),
        vec![tx(Rollback)]
    );
}

#[test]
fn literals_comments_and_quoted_identifiers_never_trigger() {
    assert_none(&[
        "SELECT 'SET search_path = x'",
        "SELECT $$LISTEN x$$",
        "SELECT $body$; LISTEN x; $body$",
        "/* PREPARE p AS */ SELECT 1",
        "-- LISTEN x\nSELECT 1",
        "SELECT \"listen\" FROM t",
        "\"set\" x = 1",
        "SELECT 'a;SET x = 1'",
        "SELECT E'\\';SET x = 1'",
        "SELECT 'x' ; -- ; SET x = 1",
        "SELECT 1 /* ; SET x = 1 */",
        "SELECT 'pg_advisory_lock(1)', \"set_config\" FROM t",
        "SELECT '; BEGIN'",
        "SELECT 1 /* /* nested */ ; LISTEN x */",
        "SELECT 'temp' AS temp_col",
        "DO $$ BEGIN PERFORM set_config('a', 'b', false); END $$",
        "DO LANGUAGE plpgsql 'BEGIN PERFORM pg_advisory_lock(1); END'",
    ]);
}

#[test]
fn unterminated_literals_swallow_the_rest() {
    assert_none(&[
        "SELECT 'open; SET x = 1",
        "SELECT $$open; SET x = 1",
        "SELECT \"open; SET x = 1",
        "SELECT 1 /* open; SET x = 1",
        "SELECT E'\\'; SET x = 1",
    ]);
}

#[test]
fn standard_conforming_strings_off_moves_string_ends() {
    let sql = "SELECT 'a\\'; SET ROLE admin; --'";
    // On: the string is 'a\', then SET ROLE runs.
    assert_eq!(
        classify(sql),
        vec![Effect::SetRole {
            value: "admin".into()
        }]
    );
    // Off: \' is an escaped quote and everything up to the last quote is one string.
    let off = Options {
        standard_conforming_strings: false,
    };
    assert_eq!(classify_with(sql, off), vec![]);
    // And the other way round: what hides from "on" shows with "off".
    let hidden = "SELECT 'x\\' ; ' ; SET ROLE admin; --'";
    assert_eq!(classify(hidden), vec![]);
    assert_eq!(
        classify_with(hidden, off),
        vec![Effect::SetRole {
            value: "admin".into()
        }]
    );
}

#[test]
fn case_insensitive_everywhere() {
    assert_eq!(
        classify("sEt SeArCh_PaTh To PuBlIc; LiStEn Q; dIsCaRd AlL; SeLeCt Pg_AdViSoRy_LoCk(1)"),
        vec![
            Effect::Set {
                name: "search_path".into(),
                value: "PuBlIc".into(),
                local: false
            },
            Effect::Listen {
                channel: "q".into()
            },
            Effect::Discard(DiscardWhat::All),
            Effect::AdvisoryLock,
        ]
    );
}

#[test]
fn the_common_case_does_not_allocate() {
    for sql in [
        "SELECT * FROM pgbench_accounts WHERE aid = $1",
        "UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3",
        "INSERT INTO t (a) VALUES ($1) RETURNING id",
        "DELETE FROM t WHERE id = $1",
    ] {
        let effects = classify(sql);
        assert!(effects.is_empty(), "{sql}");
        assert_eq!(effects.capacity(), 0, "{sql}");
        assert!(!crate::precheck::may_affect_session(sql), "{sql}");
    }
}

#[test]
fn full_path_false_positives_come_back_empty() {
    assert_none(&[
        "SELECT temperature FROM weather",
        "SELECT * FROM t WHERE note = 'set_config'",
        "UPDATE t SET attempts = attempts + 1",
        "SELECT 'x'; SELECT 'y; BEGIN'",
    ]);
}
