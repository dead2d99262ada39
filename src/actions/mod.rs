//! The GitHub Actions side of tfctl: the run's context (env vars, event
//! payload) and the workflow commands it writes (masks, annotations,
//! outputs, job summary).
//!
//! Nothing here talks to the REST API (that is `github`), and nothing here
//! decides what a command reports.

pub mod commands;
pub mod env;
pub mod event;
pub mod outputs;

pub use env::ActionsEnv;
