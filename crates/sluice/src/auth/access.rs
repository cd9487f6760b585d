//! Admission: the failed-login limit and the `[[access]]` rules, both decided before any
//! password check, from what the startup packet says.

use std::net::IpAddr;

use config::{decide, AccessAction, AccessRequest};

use super::{FailedLogins, UserDirectory};
use crate::error::SessionError;

/// Whether a client at `address` may go on to authenticate as `user` to `database`. Unknown
/// users are checked with the method they would be asked for (SCRAM), exactly as a known SCRAM
/// user of that name would be, so a rule's verdict never tells whether a user exists.
pub fn admit(
    rules: &[config::AccessRule],
    failed_logins: &FailedLogins,
    users: &UserDirectory,
    address: IpAddr,
    user: &str,
    database: &str,
) -> Result<(), SessionError> {
    failed_logins
        .check(address)
        .map_err(|retry_after| SessionError::TooManyFailedLogins {
            address,
            retry_after,
        })?;
    let request = AccessRequest {
        address,
        user,
        database,
        method: users.method_for(user),
    };
    match decide(rules, &request) {
        AccessAction::Allow => Ok(()),
        AccessAction::Reject => Err(SessionError::AccessRejected {
            address,
            user: user.to_owned(),
            database: database.to_owned(),
        }),
    }
}
