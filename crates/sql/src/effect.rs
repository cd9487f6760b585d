//! What a statement does to session state.

/// One change (or possible change) to session state made by a statement.
///
/// Names are lower-cased unless they were double-quoted, and truncated to 63 bytes as the server
/// does. Values marked "SQL text" are exactly as written, trimmed, so they can be sent back in a
/// `SET name TO value` statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `SET [SESSION | LOCAL] name {TO | =} value[, ...]`, and the special forms `SET TIME ZONE`
    /// (name `timezone`), `SET SCHEMA` (`search_path`), `SET NAMES` (`client_encoding`) and
    /// `SET XML OPTION` (`xmloption`). `value` is SQL text: `'UTC'`, `"$user", public`; the
    /// keyword forms `DEFAULT`, `SET TIME ZONE LOCAL` and a bare `SET NAMES` give `DEFAULT`.
    ///
    /// `SET LOCAL ROLE` and `SET LOCAL SESSION AUTHORIZATION` are reported here (name `role` or
    /// `session_authorization`, `local: true`), not as [`Effect::SetRole`]: they end with the
    /// transaction, so there is nothing to pin for.
    Set {
        /// The setting's name; dotted names (`app.user_id`) are joined with `.`.
        name: String,
        /// The value list as SQL text.
        value: String,
        /// `SET LOCAL`: the setting reverts at the end of the transaction.
        local: bool,
    },
    /// `RESET name`; `RESET TIME ZONE` gives name `timezone`. (`SET name TO DEFAULT` is a
    /// [`Effect::Set`] with value `DEFAULT`.)
    Reset {
        /// The setting's name.
        name: String,
    },
    /// `RESET ALL`.
    ResetAll,
    /// A call of `set_config('name', 'value', is_local)` (optionally `pg_catalog.`-qualified)
    /// anywhere in a statement, with all three arguments literals. `name` and `value` are the
    /// strings' values, unquoted.
    ///
    /// A session-level call with name `role` or `session_authorization` is reported as
    /// [`Effect::SetRole`] or [`Effect::SetSessionAuthorization`] instead, its value quoted with
    /// [`quote_literal`](crate::quote_literal). A call with a non-literal argument is
    /// [`Effect::Unknown`], except when `is_local` is the literal `true`: that only lasts until the
    /// end of the transaction, so it is not reported at all (`set_config('app.claims', $1, true)`
    /// on every request is common and must not pin).
    SetConfig {
        /// The setting's name, as given.
        name: String,
        /// The new value, as given.
        value: String,
        /// `is_local`: the setting reverts at the end of the transaction.
        local: bool,
    },
    /// `SET [SESSION] ROLE`, `RESET ROLE`, `SET role = ...`, session-level
    /// `set_config('role', ...)`. `value` is SQL text; `NONE` for `RESET ROLE`, `SET ROLE NONE`
    /// and `SET role TO DEFAULT`.
    SetRole {
        /// The role as SQL text.
        value: String,
    },
    /// `SET [SESSION] SESSION AUTHORIZATION`, `RESET SESSION AUTHORIZATION`,
    /// `SET session_authorization = ...`. `value` is SQL text; `DEFAULT` for the reset forms.
    SetSessionAuthorization {
        /// The user as SQL text.
        value: String,
    },
    /// `PREPARE name [(types)] AS statement`. If the prepared statement calls a function this
    /// crate tracks (`set_config`, advisory locks), an [`Effect::Unknown`] follows: its effect
    /// happens on each `EXECUTE`, which names only the statement.
    Prepare {
        /// The statement's name.
        name: String,
        /// The whole `PREPARE` statement exactly as written, to replay it verbatim.
        text: String,
    },
    /// `EXECUTE name [(args)]`.
    Execute {
        /// The prepared statement's name.
        name: String,
    },
    /// `DEALLOCATE [PREPARE] name`, or `None` for `DEALLOCATE [PREPARE] ALL`.
    Deallocate {
        /// The prepared statement's name; `None` for all of them.
        name: Option<String>,
    },
    /// `DISCARD ALL | PLANS | SEQUENCES | TEMP | TEMPORARY`.
    Discard(DiscardWhat),
    /// `LISTEN channel`.
    Listen {
        /// The channel's name.
        channel: String,
    },
    /// `UNLISTEN channel`, or `None` for `UNLISTEN *`.
    Unlisten {
        /// The channel's name; `None` for all of them.
        channel: Option<String>,
    },
    /// A temporary object is created: `CREATE [GLOBAL | LOCAL] {TEMP | TEMPORARY} ...`, `SELECT
    /// ... INTO [GLOBAL | LOCAL] {TEMP | TEMPORARY} ...`, or any `CREATE` (or `SELECT ... INTO`)
    /// naming `pg_temp.`something (a view over a temporary table is temporary too).
    CreateTemp,
    /// A session-level advisory lock is taken: `pg_advisory_lock`, `pg_advisory_lock_shared`,
    /// `pg_try_advisory_lock`, `pg_try_advisory_lock_shared` (not the `_xact_` variants).
    AdvisoryLock,
    /// `pg_advisory_unlock_all()`.
    AdvisoryUnlockAll,
    /// `DECLARE name ... CURSOR WITH HOLD ...`: the cursor outlives its transaction.
    DeclareWithHold,
    /// `CLOSE name`, or `None` for `CLOSE ALL`.
    CloseCursor {
        /// The cursor's name; `None` for all of them.
        name: Option<String>,
    },
    /// `LOAD 'library'`.
    Load,
    /// A transaction-control statement. Sluice finds transaction boundaries from ReadyForQuery;
    /// this tells it, for example, that a `SET` before a `ROLLBACK` did not stick.
    Transaction(TransactionControl),
    /// Something that changes session state in a way this crate cannot describe precisely,
    /// e.g. `set_config` with non-literal arguments. Bodies of `DO` blocks and functions are
    /// never inspected and never reported.
    Unknown {
        /// Why, for logs.
        reason: &'static str,
    },
}

/// What `DISCARD` discards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscardWhat {
    /// `DISCARD ALL`.
    All,
    /// `DISCARD PLANS`.
    Plans,
    /// `DISCARD SEQUENCES`.
    Sequences,
    /// `DISCARD TEMP` or `DISCARD TEMPORARY`.
    Temp,
}

/// Which transaction-control statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionControl {
    /// `BEGIN [WORK | TRANSACTION] ...`, `START TRANSACTION ...`.
    Begin,
    /// `COMMIT`, `END` (with `WORK`, `TRANSACTION`, `AND [NO] CHAIN`).
    Commit,
    /// `ROLLBACK`, `ABORT` (with `WORK`, `TRANSACTION`, `AND [NO] CHAIN`).
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint,
    /// `RELEASE [SAVEPOINT] name`.
    Release,
    /// `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name`.
    RollbackToSavepoint,
    /// `PREPARE TRANSACTION 'id'`.
    PrepareTransaction,
    /// `COMMIT PREPARED 'id'`.
    CommitPrepared,
    /// `ROLLBACK PREPARED 'id'`.
    RollbackPrepared,
}
