//! `tfctl.yaml` as written: serde structs that reject unknown keys and wrong
//! types (`serde_yaml` names the key, line and column), and derive the JSON
//! Schema printed by `tfctl schema`. No defaults are applied here beyond what
//! serde needs; `model.rs` validates and fills them in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// The whole `tfctl.yaml`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Format version of this file; only `1` exists.
    pub version: Option<u32>,
    /// Where the stacks are (the config repo checkout), relative to this file. Default `.`.
    pub config_root: Option<String>,
    /// Where the Terraform root modules are, relative to this file. Default `modules`.
    pub modules_root: Option<String>,
    pub stacks: Option<RawStacks>,
    pub modules: Option<RawModules>,
    pub backend: Option<RawBackend>,
    /// Environment used when a tfvars has no `environment` attribute; must be
    /// one of `environments`. Default `development`.
    pub default_environment: Option<String>,
    /// Branch that unknown environments merge into, and the base of local diffs. Default `main`.
    pub default_branch: Option<String>,
    /// Environments by name. A stack's environment must be one of these
    /// names, spelled exactly (`Production` or `prod` is an input error).
    /// Default: `development`, `staging` and `production`.
    pub environments: Option<BTreeMap<String, RawEnvironment>>,
    /// Service order rules: each group runs before every later group
    /// (`[[IAM, KMS], [S3, SQS, SNS], [Lambda]]`).
    pub order: Option<Vec<Vec<String>>>,
    /// Stacks planned or applied at once. Default 10.
    pub parallelism: Option<usize>,
    pub policy: Option<RawPolicy>,
    pub labels: Option<RawLabels>,
    pub terraform: Option<RawTerraform>,
    pub approvers: Option<RawApprovers>,
    pub trust: Option<RawTrust>,
    pub locks: Option<RawLocks>,
    pub promotion: Option<RawPromotion>,
    pub github: Option<RawGithub>,
}

/// Which files are stacks, and which files beside them belong to them.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStacks {
    /// Globs (relative to `config_root`) of stack tfvars. Default `["**/*.tfvars"]`.
    pub include: Option<Vec<String>>,
    /// Globs excluded from `include`. Default: nothing.
    pub exclude: Option<Vec<String>>,
    /// File-name globs of companion files: a change to one in a stack directory
    /// changes that stack. Default `["*.json", "*.tftpl", "*.yaml", "*.yml"]`.
    pub companions: Option<Vec<String>>,
    /// What the directories of a stack's path mean, `/`-separated: `{service}`
    /// (picks the root module), `{name}` (last), optionally `{environment}`,
    /// and literal directories. Directories between the last placeholder
    /// before `{name}` and `{name}` are free (grouping). An environment
    /// from the path and one from the tfvars must agree. Default
    /// `{service}/{name}`; `{environment}/{service}/{name}` reads
    /// `production/network/vpc`.
    pub layout: Option<String>,
    /// How several tfvars files of one stack directory combine: file names
    /// or globs in the order terraform reads them (a later file wins where
    /// two set one variable). A file is read at the entry naming it
    /// exactly, else at the first glob it matches, files of one entry by
    /// name: `["common.tfvars", "*.tfvars", "override.tfvars"]`. A tfvars
    /// matching none is an input error. `depends_on` lists add up; files
    /// naming an `environment` must agree. Default: unset, one tfvars per
    /// stack directory (a second one is an input error naming both).
    pub var_files: Option<Vec<String>>,
}

/// Root module per service.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawModules {
    /// Path template under `modules_root` for services not listed; `{service}`
    /// and `{service_lower}` are replaced. Default `{service_lower}`.
    pub default: Option<String>,
    /// Service → path under `modules_root`.
    pub services: Option<BTreeMap<String, String>>,
}

/// Backend configuration passed to `terraform init -backend-config`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// Backend type of the root modules (`local`, `s3`, `http`, ...). Default `local`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// State key template. Default `{service}/{environment}/{name}/terraform.tfstate`.
    pub key: Option<String>,
    /// `-backend-config` settings; values may use `{service}`, `{environment}`,
    /// `{name}`, `{id}` and `{key}`. For `local` the default is
    /// `path: .tfctl/state/{key}` and a relative path is resolved against this file.
    pub settings: Option<BTreeMap<String, String>>,
}

/// One environment.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// Branch this environment merges into and applies from.
    pub branch: Option<String>,
    /// Approvals required to merge. Default 1.
    pub approvals: Option<u32>,
    /// Terraform variables (`-var name=value`) for every stack of this
    /// environment. A tfvars may not set any of them.
    pub variables: Option<BTreeMap<String, String>>,
    /// Process environment for terraform (an `AWS_PROFILE`, say).
    pub env: Option<BTreeMap<String, String>>,
    /// Another environment whose applies this one's changes must follow:
    /// a stack here validates (and applies) only with a root module tree
    /// that was applied there first (docs/DESIGN.md §8, "Promotion").
    pub promote_from: Option<String>,
}

/// Rego policies.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Files or directories of `*.rego`, relative to this file. Default `["policies"]`.
    pub paths: Option<Vec<String>>,
    /// Packages whose `deny`, `violation` and `warn` rules are queried. Default `["main"]`.
    pub namespaces: Option<Vec<String>>,
    /// Extra JSON/YAML data documents loaded under `data`.
    pub data: Option<Vec<String>>,
}

/// Label names.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLabels {
    /// Label of a PR whose validation passed. Default `opa-passed`.
    pub passed: Option<String>,
    /// Label of a PR whose validation failed. Default `opa-failed`.
    pub failed: Option<String>,
    /// Label of a failed PR merged by an `OVERRIDE:`. Default `opa-override`.
    #[serde(rename = "override")]
    pub overridden: Option<String>,
}

/// How terraform is run.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTerraform {
    /// Binary name or path. Default: `TFCTL_TERRAFORM`, else `terraform` on `PATH`.
    pub binary: Option<String>,
    /// Extra arguments of every `terraform init`.
    pub init_args: Option<Vec<String>>,
    /// Extra arguments of every `terraform plan`.
    pub plan_args: Option<Vec<String>>,
    /// Extra arguments of every `terraform apply`.
    pub apply_args: Option<Vec<String>>,
    /// Shared provider plugin cache directory.
    pub plugin_cache_dir: Option<String>,
    /// Seconds terraform gets to stop after the first signal before it is killed. Default 7.
    pub grace_period_secs: Option<u64>,
    /// Secrets of tfctl that terraform may still inherit. Terraform (root modules, providers,
    /// `local-exec`) never sees `GITHUB_TOKEN`, `GH_TOKEN`, `TFCTL_SIGNING_KEY`, the
    /// `TFCTL_APP_*` credentials, `ACTIONS_RUNTIME_TOKEN` or the
    /// `ACTIONS_ID_TOKEN_REQUEST_*` pair unless named here (OIDC federation of a provider
    /// needs the last two, say); only those names are accepted. An environment's `env` is
    /// set explicitly and always applies. Default: none.
    pub pass_env: Option<Vec<String>>,
}

/// Who may override a failed policy check.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApprovers {
    /// GitHub logins.
    pub users: Option<Vec<String>>,
    /// Teams as `org/team-slug`.
    pub teams: Option<Vec<String>>,
}

/// Whose signatures merge and apply believe (docs/DESIGN.md §4).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTrust {
    /// Public keys (`tfctl-ed25519:<hex>`, from `tfctl key public`) whose
    /// attestations merge and apply accept. List the new key beside the old
    /// one while rotating.
    pub public_keys: Option<Vec<String>>,
    /// Accept unsigned validations when no key is configured. A demo setting:
    /// anyone who can write a comment can then forge a validation, and every
    /// comment says "unsigned". Default false.
    pub allow_unsigned: Option<bool>,
}

/// Stack locks (docs/DESIGN.md §8): one PR at a time per stack.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLocks {
    /// `validate`: a PR's validation locks each stack it plans until the PR
    /// is applied or closed; another PR that changes a locked stack is
    /// validated but cannot merge. `apply`: a lock is held only while an
    /// apply runs. `off`: no locks. Default `validate`.
    pub mode: Option<String>,
}

/// What an apply records for `promote_from` (docs/DESIGN.md §8).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPromotion {
    /// Top-level tfvars attributes that differ between environments by
    /// design, left out of the tfvars digest an apply records. Default
    /// `["environment", "name"]`.
    pub ignore_keys: Option<Vec<String>>,
}

/// GitHub behaviour.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    /// Login that writes tfctl's comments; checked against the credentials. Default: the GitHub App's `<slug>[bot]`, else `github-actions[bot]`.
    pub bot_login: Option<String>,
    /// `merge`, `squash` or `rebase`. Default `merge`.
    pub merge_method: Option<String>,
    /// Controller repository (`owner/repo`) that `dispatch` sends to.
    pub controller_repo: Option<String>,
    /// Which event of the config repo triggers validation: `push` or `pull_request`. Default `push`.
    pub validate_on: Option<String>,
    /// Accept PRs whose head is a fork. Default false.
    pub allow_forks: Option<bool>,
}
