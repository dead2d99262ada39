//! The one error type that crosses module boundaries, and the only place
//! that decides exit codes (docs/DESIGN.md §2: 0 ok, 1 verdict, 2 bad input, 130
//! cancelled).
//!
//! Policy denials, blocked gates and failed stacks are *data* in reports, not
//! errors; this type is for runs that could not be judged at all.

use std::fmt;

/// Exit codes of tfctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    /// Policy violations, a blocked gate, or a terraform failure.
    Failure = 1,
    /// Bad usage, config or input.
    BadInput = 2,
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

/// An error with its kind and a message meant for people (one line where
/// possible, naming the file, line or field).
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn input(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Runtime,
            message: message.into(),
        }
    }

    pub fn cancelled() -> Error {
        Error {
            kind: ErrorKind::Cancelled,
            message: "cancelled".into(),
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.kind {
            ErrorKind::Input => ExitStatus::BadInput,
            ErrorKind::Runtime => ExitStatus::Failure,
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
