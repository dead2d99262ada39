//! The one error type that crosses module boundaries, and the only place
//! that decides exit codes (docs/DESIGN.md §2: 0 ok, 1 verdict, 2 bad input,
//! 3 could not finish, 130 cancelled).
//!
//! Policy denials, blocked gates and failed stacks are *data* in reports, not
//! errors; this type is for runs that could not be judged at all.

use std::fmt;

/// Exit codes of tfctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    /// The verdict is no: policy violations, a blocked gate, or a
    /// terraform failure.
    Failure = 1,
    /// Bad usage, config or input.
    BadInput = 2,
    /// tfctl could not finish: GitHub (after its retries), the filesystem
    /// or a tool it runs failed. Not a verdict: a workflow may retry.
    Unfinished = 3,
    /// Cancelled by SIGINT/SIGTERM.
    Cancelled = 130,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What kind of problem an [`Error`] is; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's input, config, tfvars, policies or event payload is wrong.
    Input,
    /// Something outside went wrong (GitHub API, terraform missing, IO).
    Runtime,
    /// The run was cancelled.
    Cancelled,
}

/// Where in a file an input error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// As the message names it (relative where tfctl could make it so).
    pub file: String,
    pub line: u32,
    pub col: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        match self.col {
            Some(col) => write!(f, ":{col}"),
            None => Ok(()),
        }
    }
}

/// An error with its kind and a message meant for people (one line where
/// possible, naming the file, line or field).
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    /// The whole line as printed, location first when there is one.
    pub message: String,
    /// The place `message` starts with, typed: what an Actions annotation
    /// pins the error to.
    pub location: Option<Location>,
}

impl Error {
    pub fn input(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
            location: None,
        }
    }

    /// An input error at `file:line[:col]`: printed as
    /// `file:line[:col]: what`.
    pub fn input_at(
        file: impl Into<String>,
        line: usize,
        col: Option<usize>,
        what: impl fmt::Display,
    ) -> Error {
        let location = Location {
            file: file.into(),
            line: line as u32,
            col: col.map(|c| c as u32),
        };
        Error {
            kind: ErrorKind::Input,
            message: format!("{location}: {what}"),
            location: Some(location),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Runtime,
            message: message.into(),
            location: None,
        }
    }

    pub fn cancelled() -> Error {
        Error {
            kind: ErrorKind::Cancelled,
            message: "cancelled".into(),
            location: None,
        }
    }

    /// The message without its location: what an annotation at
    /// [`Error::location`] says.
    pub fn what(&self) -> &str {
        match &self.location {
            Some(at) => self
                .message
                .strip_prefix(&format!("{at}: "))
                .unwrap_or(&self.message),
            None => &self.message,
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.kind {
            ErrorKind::Input => ExitStatus::BadInput,
            ErrorKind::Runtime => ExitStatus::Unfinished,
            ErrorKind::Cancelled => ExitStatus::Cancelled,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    /// Untyped errors from effect code are runtime errors; the chain is kept
    /// on one line.
    fn from(e: anyhow::Error) -> Error {
        match e.downcast::<Error>() {
            Ok(err) => err,
            Err(e) => Error::runtime(format!("{e:#}")),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_located_error_prints_its_place_first_and_keeps_it_typed() {
        let e = Error::input_at("S3/a/a.tfvars", 3, Some(7), "tfvars syntax error: x");
        assert_eq!(e.message, "S3/a/a.tfvars:3:7: tfvars syntax error: x");
        assert_eq!(e.what(), "tfvars syntax error: x");
        let at = e.location.as_ref().unwrap();
        assert_eq!(
            (at.file.as_str(), at.line, at.col),
            ("S3/a/a.tfvars", 3, Some(7))
        );
        assert_eq!(e.exit_status(), ExitStatus::BadInput);
        let no_col = Error::input_at("tfctl.yaml", 12, None, "unknown key");
        assert_eq!(no_col.to_string(), "tfctl.yaml:12: unknown key");
        assert_eq!(Error::input("x").what(), "x");
    }

    #[test]
    fn every_kind_has_its_own_exit_code() {
        let codes = [
            Error::input("x").exit_status().code(),
            Error::runtime("x").exit_status().code(),
            Error::cancelled().exit_status().code(),
            ExitStatus::Failure.code(),
            ExitStatus::Success.code(),
        ];
        assert_eq!(codes, [2, 3, 130, 1, 0]);
    }
}
