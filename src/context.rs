//! Everything tfctl reads from its own process, read once in [`crate::run`]
//! and handed down (docs/ARCHITECTURE.md): the GitHub Actions context, what
//! the runner needs to find and configure terraform, the working directory
//! and whether stderr is a terminal. Nothing below `commands` reads the
//! environment; a command decides "local or Actions?" from `actions` only.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::actions::ActionsEnv;
use crate::runner::HostEnv;

/// The process facts of one tfctl invocation.
#[derive(Debug, Clone)]
pub struct Context {
    /// `GITHUB_*` and tfctl's secrets; `in_actions` says where it runs.
    pub actions: ActionsEnv,
    /// `TFCTL_TERRAFORM`, `PATH`, `HOME`, `TF_CLI_CONFIG_FILE`.
    pub host: HostEnv,
    /// Where relative paths (typed `--files`, the config search) start.
    pub cwd: PathBuf,
    /// Whether stderr is a terminal (a live status line may be drawn).
    pub stderr_is_terminal: bool,
}

impl Context {
    /// Reads the process: the only read of the environment in production.
    pub fn from_process() -> Context {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let os = |name: &str| std::env::var_os(name);
        Context {
            actions: ActionsEnv::from_env(&vars),
            host: HostEnv {
                terraform: vars.get("TFCTL_TERRAFORM").cloned(),
                path: os("PATH"),
                home: os("HOME"),
                tf_cli_config_file: os("TF_CLI_CONFIG_FILE"),
            },
            cwd: std::env::current_dir().unwrap_or_default(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }
}
