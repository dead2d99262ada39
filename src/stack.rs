//! The stack: one directory of the config repo holding a `*.tfvars` file.
//!
//! Owns the identity of a stack (id, service, name) and what its tfvars
//! declare. It does no IO: discovery builds stacks, the runner plans them.

use std::path::PathBuf;

use serde::Serialize;

/// What a run does to a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackAction {
    /// The tfvars exists: plan (and later apply) it.
    Plan,
    /// The tfvars was deleted: plan a destroy with its last known contents.
    Destroy,
}

impl StackAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StackAction::Plan => "plan",
            StackAction::Destroy => "destroy",
        }
    }
}

/// One stack, as discovery found it and its tfvars described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stack {
    /// Path of the stack directory relative to the config root, `/`-separated
    /// (`S3/data-lake-prod`).
    pub id: String,
    /// First path component (`S3`): selects the root module.
    pub service: String,
    /// Last path component (`data-lake-prod`).
    pub name: String,
    /// The tfvars file, relative to the config root (`S3/data-lake-prod/data-lake-prod.tfvars`).
    pub tfvars: PathBuf,
    /// From the tfvars attribute `environment`, else the config default.
    pub environment: String,
    pub action: StackAction,
    /// Explicit `depends_on = [...]` stack ids; the selection adds the
    /// selected stacks this one follows through unselected ones
    /// (docs/DESIGN.md §3), which order it the same way.
    pub depends_on: Vec<String>,
    /// Every other string value in the tfvars; the graph keeps those that
    /// name a stack id as implicit edges.
    pub string_values: Vec<String>,
    /// Why the run has this stack: the changed paths that selected it (its
    /// tfvars or companion, relative to the config root; a module or policy
    /// file, relative to tfctl.yaml's directory), sorted. Empty with `--all`.
    pub reasons: Vec<String>,
}

impl Stack {
    /// Splits a stack id into (service, name); `None` for an empty id.
    pub fn split_id(id: &str) -> Option<(&str, &str)> {
        let service = id.split('/').next().filter(|s| !s.is_empty())?;
        let name = id.rsplit('/').next().filter(|s| !s.is_empty())?;
        Some((service, name))
    }
}

#[cfg(test)]
impl Stack {
    /// A stack to plan with `id`, in `environment`, after `depends_on`.
    pub(crate) fn sample(id: &str, environment: &str, depends_on: &[&str]) -> Stack {
        let (service, name) = Stack::split_id(id).expect("a stack id");
        Stack {
            id: id.into(),
            service: service.into(),
            name: name.into(),
            tfvars: PathBuf::from(format!("{id}/{name}.tfvars")),
            environment: environment.into(),
            action: StackAction::Plan,
            depends_on: depends_on.iter().map(|d| (*d).to_string()).collect(),
            string_values: Vec::new(),
            reasons: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_id_takes_first_and_last_components() {
        assert_eq!(
            Stack::split_id("S3/data-lake-prod"),
            Some(("S3", "data-lake-prod"))
        );
        assert_eq!(Stack::split_id("team/S3/a/b"), Some(("team", "b")));
        assert_eq!(Stack::split_id("solo"), Some(("solo", "solo")));
        assert_eq!(Stack::split_id(""), None);
    }
}
