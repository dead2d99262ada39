//! The integration tests: one test binary, so the fake GitHub and the
//! helpers compile once (a test-only rebuild links one binary, not 19).
//!
//! Support modules first (`harness` runs tfctl as a child process on real
//! git repositories, `support` is the fake GitHub on 127.0.0.1, the
//! `*_support` modules set up one area's scenarios); then one module per
//! area. The only test outside this binary is `tests/signals.rs`, which
//! sends SIGINT to its own process.

mod apply_support;
mod flow_support;
mod harness;
mod policy_common;
mod runner_support;
mod support;

mod apply_gate;
mod apply_run;
mod concurrency;
mod drift;
mod flow_dispatch;
mod flow_merge;
mod git_refs;
mod github_client;
mod github_contract;
mod github_validate;
mod impact;
mod inputs_module;
mod key_cli;
mod locks;
mod policy_cli;
mod policy_library;
mod progress;
mod promotion;
mod render_comments;
mod render_plan;
mod render_report;
mod report;
mod revalidate;
mod runner_terraform;
mod scale;
mod security_gates;
mod security_github;
mod security_inputs;
mod security_leaks;
mod ship_action;
mod ship_examples;
mod ship_readme;
mod validate;
