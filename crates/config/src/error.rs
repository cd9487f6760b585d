//! [`ConfigError`] and [`Problem`]: everything wrong with a config file.

use std::fmt;

/// Every problem found in a configuration. `Display` prints one per line as
/// `path: message`, ready for `sluice check` to show as-is.
#[derive(Debug, thiserror::Error)]
#[error("{}", Lines(problems))]
pub struct ConfigError {
    /// The problems, in file order where known. Never empty.
    pub problems: Vec<Problem>,
}

/// One problem: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    /// Key path such as `database.hosts[0]` or `users[1].name`; for syntax
    /// errors `line L, column C`; for I/O errors the file path.
    pub path: String,
    /// What is wrong, and usually what was expected.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<Problem> for ConfigError {
    fn from(p: Problem) -> Self {
        Self { problems: vec![p] }
    }
}

struct Lines<'a>(&'a [Problem]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_problem_per_line() {
        let e = ConfigError {
            problems: vec![
                Problem::new("a.b", "bad"),
                Problem::new("users[0].name", "worse"),
            ],
        };
        assert_eq!(e.to_string(), "a.b: bad\nusers[0].name: worse");
    }
}
