//! The validated configuration every command works from.
//!
//! Built from [`RawConfig`] with defaults applied, paths resolved against the
//! directory of `tfctl.yaml`, and every problem collected at once, so a user
//! fixes a config in one pass. Pure: the file is read by `config::load`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::raw::RawConfig;
use crate::attest::PublicKey;

/// Default state key template (docs/DESIGN.md §1).
pub const DEFAULT_KEY_TEMPLATE: &str = "{service}/{environment}/{name}/terraform.tfstate";

/// The validated `tfctl.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// Directory of `tfctl.yaml`; relative paths resolve against it.
    pub base_dir: PathBuf,
    pub config_root: PathBuf,
    pub modules_root: PathBuf,
    pub stacks: StackGlobs,
    pub modules: ModuleMap,
    pub backend: Backend,
    pub default_environment: String,
    pub default_branch: String,
    pub environments: BTreeMap<String, Environment>,
    /// Service groups in order; every group runs before the later ones.
    pub order: Vec<Vec<String>>,
    pub parallelism: usize,
    pub policy: PolicyConfig,
    pub labels: Labels,
    pub terraform: TerraformConfig,
    pub approvers: Approvers,
    pub trust: TrustConfig,
    pub locks: LockMode,
    /// `promotion.ignore_keys`: tfvars attributes left out of the tfvars
    /// digest an apply records.
    pub promotion_ignore_keys: Vec<String>,
    pub github: GithubConfig,
}

/// Compiled stack globs.
#[derive(Debug, Clone)]
pub struct StackGlobs {
    pub include: GlobSet,
    pub exclude: GlobSet,
    /// Matched against the file name only.
    pub companions: GlobSet,
    /// What the directories of a stack's path mean (`stacks.layout`).
    pub layout: Layout,
    /// How several tfvars of one stack combine; `None`: one per stack.
    pub var_files: Option<VarFiles>,
}

/// Default `stacks.layout`: the first directory is the service, the last
/// the name (docs/DESIGN.md §1).
pub const DEFAULT_LAYOUT: &str = "{service}/{name}";

/// `stacks.layout`, parsed: what each directory of a stack's path means.
/// The stack id stays the whole path; the layout only names its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub template: String,
    /// The parts before `{name}`, matched against the leading directories.
    leading: Vec<LayoutPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LayoutPart {
    Service,
    Environment,
    Literal(String),
}

/// The parts of one stack path, as its layout names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRoles<'a> {
    pub service: &'a str,
    pub name: &'a str,
    /// From an `{environment}` directory; `None` when the layout has none.
    pub environment: Option<&'a str>,
}

impl Layout {
    /// Parses a template such as `{environment}/{service}/{name}`.
    pub fn parse(template: &str) -> Result<Layout, String> {
        let parts: Vec<&str> = template.split('/').collect();
        let Some((&last, leading)) = parts.split_last() else {
            return Err("must not be empty".into());
        };
        if last != "{name}" {
            return Err(format!(
                "`{template}` must end with `{{name}}` (the stack's own directory)"
            ));
        }
        let mut out = Vec::new();
        for part in leading {
            let role = match *part {
                "{service}" => LayoutPart::Service,
                "{environment}" => LayoutPart::Environment,
                "{name}" => return Err(format!("`{template}` has `{{name}}` twice")),
                literal if literal.contains(['{', '}']) || literal.is_empty() => {
                    return Err(format!(
                        "`{template}`: `{literal}` is not `{{service}}`, `{{environment}}`,                          `{{name}}` or a directory name"
                    ))
                }
                literal => LayoutPart::Literal(literal.to_string()),
            };
            if role != LayoutPart::Service && role != LayoutPart::Environment {
                out.push(role);
                continue;
            }
            if out.contains(&role) {
                return Err(format!("`{template}` has `{part}` twice"));
            }
            out.push(role);
        }
        if !out.contains(&LayoutPart::Service) {
            return Err(format!(
                "`{template}` needs `{{service}}` (it picks the root module)"
            ));
        }
        Ok(Layout {
            template: template.to_string(),
            leading: out,
        })
    }

    /// Names the parts of stack path `id` (pure). A path with fewer
    /// directories than the layout, or a literal directory that differs,
    /// does not follow it: the problem, for a message.
    pub fn roles<'a>(&self, id: &'a str) -> Result<PathRoles<'a>, String> {
        let dirs: Vec<&str> = id.split('/').collect();
        if id.is_empty() || dirs.len() <= self.leading.len() {
            return Err(format!(
                "does not follow stacks.layout `{}` (it needs {} directories)",
                self.template,
                self.leading.len() + 1
            ));
        }
        let mut roles = PathRoles {
            service: "",
            name: dirs[dirs.len() - 1],
            environment: None,
        };
        for (part, dir) in self.leading.iter().zip(&dirs) {
            match part {
                LayoutPart::Service => roles.service = dir,
                LayoutPart::Environment => roles.environment = Some(dir),
                LayoutPart::Literal(literal) if literal == dir => {}
                LayoutPart::Literal(literal) => {
                    return Err(format!(
                        "does not follow stacks.layout `{}` (`{dir}` where `{literal}` belongs)",
                        self.template
                    ))
                }
            }
        }
        Ok(roles)
    }
}

/// `stacks.var_files`: file-name globs in the order terraform reads them.
#[derive(Debug, Clone)]
pub struct VarFiles {
    pub patterns: Vec<String>,
    globs: Vec<globset::GlobMatcher>,
}

impl VarFiles {
    /// Where terraform reads file `name`: at the entry that names it
    /// exactly, else at the first glob it matches (so `["*.tfvars",
    /// "override.tfvars"]` reads `override.tfvars` last).
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.patterns
            .iter()
            .position(|p| p == name)
            .or_else(|| self.globs.iter().position(|g| g.is_match(name)))
    }
}

#[derive(Debug, Clone)]
pub struct ModuleMap {
    pub default_template: String,
    pub services: BTreeMap<String, String>,
}

impl ModuleMap {
    /// Path of the root module of `service`, relative to `modules_root`.
    pub fn module_for(&self, service: &str) -> String {
        match self.services.get(service) {
            Some(path) => path.clone(),
            None => self
                .default_template
                .replace("{service_lower}", &service.to_lowercase())
                .replace("{service}", service),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: String,
    pub key_template: String,
    /// Setting → template, rendered per stack.
    pub settings: BTreeMap<String, String>,
}

/// Placeholders of a stack, for templates.
pub struct TemplateVars<'a> {
    pub id: &'a str,
    pub service: &'a str,
    pub name: &'a str,
    pub environment: &'a str,
}

impl Backend {
    /// The state key of a stack.
    pub fn key(&self, vars: &TemplateVars<'_>) -> String {
        render_template(&self.key_template, vars, None)
    }

    /// `-backend-config` pairs for a stack; a relative local `path` is made
    /// absolute against `base_dir` so it does not depend on terraform's cwd.
    pub fn settings_for(&self, vars: &TemplateVars<'_>, base_dir: &Path) -> Vec<(String, String)> {
        let key = self.key(vars);
        self.settings
            .iter()
            .map(|(k, template)| {
                let mut value = render_template(template, vars, Some(&key));
                if self.kind == "local" && k == "path" && Path::new(&value).is_relative() {
                    value = base_dir.join(&value).to_string_lossy().into_owned();
                }
                (k.clone(), value)
            })
            .collect()
    }
}

/// Which parts of a stack's path its rendered backend settings depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathParts {
    pub id: bool,
    pub service: bool,
    pub name: bool,
}

impl Backend {
    /// The path placeholders the settings use, directly or through `{key}`:
    /// two stacks that agree on these parts (and the environment) get the
    /// same settings, so only such stacks can share a state.
    pub fn path_parts(&self) -> PathParts {
        let uses = |placeholder: &str| {
            self.settings.values().any(|t| {
                t.contains(placeholder)
                    || (t.contains("{key}") && self.key_template.contains(placeholder))
            })
        };
        PathParts {
            id: uses("{id}"),
            service: uses("{service}"),
            name: uses("{name}"),
        }
    }

    /// How a message names the state a stack's settings point at: the
    /// rendered key when a setting uses `{key}` (the usual case), else the
    /// rendered settings themselves.
    pub fn state_name(&self, vars: &TemplateVars<'_>, base_dir: &Path) -> String {
        if self.settings.values().any(|t| t.contains("{key}")) {
            format!("state key {}", self.key(vars))
        } else {
            let pairs: Vec<String> = self
                .settings_for(vars, base_dir)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("backend settings {}", pairs.join(", "))
        }
    }
}

fn render_template(template: &str, vars: &TemplateVars<'_>, key: Option<&str>) -> String {
    let mut out = template
        .replace("{service}", vars.service)
        .replace("{environment}", vars.environment)
        .replace("{name}", vars.name)
        .replace("{id}", vars.id);
    if let Some(key) = key {
        out = out.replace("{key}", key);
    }
    out
}

#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub branch: String,
    pub approvals: u32,
    pub variables: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// The environment whose applies this one's module trees must follow.
    pub promote_from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PolicyConfig {
    pub paths: Vec<PathBuf>,
    pub namespaces: Vec<String>,
    pub data: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Labels {
    pub passed: String,
    pub failed: String,
    pub overridden: String,
}

#[derive(Debug, Clone)]
pub struct TerraformConfig {
    pub binary: Option<String>,
    pub init_args: Vec<String>,
    pub plan_args: Vec<String>,
    pub apply_args: Vec<String>,
    pub plugin_cache_dir: Option<PathBuf>,
    pub grace_period_secs: u64,
    /// Names of [`crate::runner::terraform::WITHHELD_ENV`] terraform still
    /// inherits; validated against that list so a typo cannot silently
    /// leave a provider without its credentials.
    pub pass_env: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Approvers {
    pub users: Vec<String>,
    /// `(org, team_slug)`.
    pub teams: Vec<(String, String)>,
}

/// How a PR is merged; the same type the GitHub client sends.
pub use crate::github::MergeMethod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateOn {
    Push,
    PullRequest,
}

/// When stacks are locked (`locks.mode`, docs/DESIGN.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// From a PR's validation until it is applied or closed.
    #[default]
    Validate,
    /// Only while an apply runs.
    Apply,
    Off,
}

/// Whose attestations merge and apply accept.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    pub public_keys: Vec<PublicKey>,
    /// Unsigned validations are accepted when no key is configured (demo).
    pub allow_unsigned: bool,
}

#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// `github.bot_login` as written in tfctl.yaml; `None` when not set.
    /// Not the login to use: who tfctl writes as depends on its
    /// credentials, so the session decides that once, checking this
    /// against GitHub (`GhSession::bot_login`, `github::effective_bot_login`).
    pub bot_login: Option<String>,
    pub merge_method: MergeMethod,
    pub controller_repo: Option<String>,
    pub validate_on: ValidateOn,
    pub allow_forks: bool,
}

impl Config {
    /// Validates a raw config read from `file`. All problems are reported
    /// together, one per line, each naming the field.
    pub fn from_raw(raw: RawConfig, file: &Path) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &str| -> PathBuf {
            let path = Path::new(p);
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                base_dir.join(path)
            }
        };

        if let Some(v) = raw.version {
            if v != 1 {
                problems.push(format!("version: unsupported version {v} (expected 1)"));
            }
        }

        let stacks_raw = raw.stacks.unwrap_or_default();
        let include_patterns = stacks_raw
            .include
            .unwrap_or_else(|| vec!["**/*.tfvars".to_string()]);
        let stacks = StackGlobs {
            include: build_globs("stacks.include", &include_patterns, &mut problems),
            exclude: build_globs(
                "stacks.exclude",
                &stacks_raw.exclude.unwrap_or_default(),
                &mut problems,
            ),
            companions: build_globs(
                "stacks.companions",
                &stacks_raw.companions.unwrap_or_else(|| {
                    ["*.json", "*.tftpl", "*.yaml", "*.yml"]
                        .map(String::from)
                        .to_vec()
                }),
                &mut problems,
            ),
            layout: Layout::parse(stacks_raw.layout.as_deref().unwrap_or(DEFAULT_LAYOUT))
                .unwrap_or_else(|problem| {
                    problems.push(format!("stacks.layout: {problem}"));
                    Layout::parse(DEFAULT_LAYOUT).expect("the default layout parses")
                }),
            var_files: stacks_raw
                .var_files
                .map(|patterns| var_files(patterns, &mut problems)),
        };

        let modules_raw = raw.modules.unwrap_or_default();
        let modules = ModuleMap {
            default_template: modules_raw
                .default
                .unwrap_or_else(|| "{service_lower}".into()),
            services: modules_raw.services.unwrap_or_default(),
        };

        let backend_raw = raw.backend.unwrap_or_default();
        let kind = backend_raw.kind.unwrap_or_else(|| "local".into());
        let mut settings = backend_raw.settings.unwrap_or_default();
        if kind == "local" && !settings.contains_key("path") {
            settings.insert("path".into(), ".tfctl/state/{key}".into());
        }
        let backend = Backend {
            kind,
            key_template: backend_raw
                .key
                .unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.into()),
            settings,
        };

        let default_branch = raw.default_branch.unwrap_or_else(|| "main".into());
        let environments: BTreeMap<String, Environment> = match raw.environments {
            Some(envs) => envs
                .into_iter()
                .map(|(name, e)| {
                    let env = Environment {
                        branch: e
                            .branch
                            .unwrap_or_else(|| default_branch_for(&name, &default_branch)),
                        approvals: e.approvals.unwrap_or(1),
                        variables: e.variables.unwrap_or_default(),
                        env: e.env.unwrap_or_default(),
                        promote_from: e.promote_from,
                    };
                    (name, env)
                })
                .collect(),
            None => ["development", "staging", "production"]
                .into_iter()
                .map(|name| {
                    let env = Environment {
                        branch: default_branch_for(name, &default_branch),
                        approvals: if name == "production" { 2 } else { 1 },
                        ..Environment::default()
                    };
                    (name.to_string(), env)
                })
                .collect(),
        };

        for (name, env) in &environments {
            match env.promote_from.as_deref() {
                Some(from) if from == name => problems.push(format!(
                    "environments.{name}.promote_from: an environment cannot promote from itself"
                )),
                Some(from) if !environments.contains_key(from) => problems.push(format!(
                    "environments.{name}.promote_from: `{from}` is not one of the environments"
                )),
                _ => {}
            }
            for var in env.variables.keys().filter(|v| v.starts_with("tfctl_")) {
                problems.push(format!(
                    "environments.{name}.variables.{var}: variables named tfctl_* are set by \
                     tfctl (the stack's id, directory and environment)"
                ));
            }
        }

        // docs/DESIGN.md §4: a stack's environment decides its branch, approvals,
        // credentials and policies, so it must be one this file declares;
        // the fallback of tfvars without `environment` is no exception.
        let default_environment = raw
            .default_environment
            .unwrap_or_else(|| "development".into());
        if environments.is_empty() {
            problems.push(
                "environments: declare at least one environment (every stack's environment must be declared here)"
                    .into(),
            );
        } else if !environments.contains_key(&default_environment) {
            problems.push(format!(
                "default_environment: {default_environment:?} is not declared in environments (declared: {}){}",
                declared_list(&environments),
                did_you_mean(&default_environment, &environments)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default()
            ));
        }

        let parallelism = raw.parallelism.unwrap_or(10);
        if parallelism == 0 {
            problems.push("parallelism: must be at least 1".into());
        }

        let policy_raw = raw.policy.unwrap_or_default();
        let policy = PolicyConfig {
            paths: policy_raw
                .paths
                .unwrap_or_else(|| vec!["policies".into()])
                .iter()
                .map(|p| resolve(p))
                .collect(),
            namespaces: policy_raw.namespaces.unwrap_or_else(|| vec!["main".into()]),
            data: policy_raw
                .data
                .unwrap_or_default()
                .iter()
                .map(|p| resolve(p))
                .collect(),
        };
        if policy.namespaces.is_empty() {
            problems.push("policy.namespaces: name at least one package".into());
        }

        let labels_raw = raw.labels.unwrap_or_default();
        let labels = Labels {
            passed: labels_raw.passed.unwrap_or_else(|| "opa-passed".into()),
            failed: labels_raw.failed.unwrap_or_else(|| "opa-failed".into()),
            overridden: labels_raw
                .overridden
                .unwrap_or_else(|| "opa-override".into()),
        };

        let tf_raw = raw.terraform.unwrap_or_default();
        let terraform = TerraformConfig {
            binary: tf_raw.binary,
            init_args: tf_raw.init_args.unwrap_or_default(),
            plan_args: tf_raw.plan_args.unwrap_or_default(),
            apply_args: tf_raw.apply_args.unwrap_or_default(),
            plugin_cache_dir: tf_raw.plugin_cache_dir.as_deref().map(resolve),
            grace_period_secs: tf_raw.grace_period_secs.unwrap_or(7),
            pass_env: pass_env(tf_raw.pass_env.unwrap_or_default(), &mut problems),
        };

        let approvers_raw = raw.approvers.unwrap_or_default();
        let mut teams = Vec::new();
        for team in approvers_raw.teams.unwrap_or_default() {
            match team.split_once('/') {
                Some((org, slug)) if !org.is_empty() && !slug.is_empty() && !slug.contains('/') => {
                    teams.push((org.to_string(), slug.to_string()));
                }
                _ => problems.push(format!("approvers.teams: `{team}` is not `org/team-slug`")),
            }
        }
        let approvers = Approvers {
            users: approvers_raw.users.unwrap_or_default(),
            teams,
        };

        let trust_raw = raw.trust.unwrap_or_default();
        let mut public_keys = Vec::new();
        for (i, text) in trust_raw.public_keys.unwrap_or_default().iter().enumerate() {
            match PublicKey::parse(text) {
                Ok(key) => public_keys.push(key),
                Err(e) => problems.push(format!("trust.public_keys[{i}]: {e}")),
            }
        }
        let trust = TrustConfig {
            public_keys,
            allow_unsigned: trust_raw.allow_unsigned.unwrap_or(false),
        };

        let locks = match raw.locks.unwrap_or_default().mode.as_deref() {
            None | Some("validate") => LockMode::Validate,
            Some("apply") => LockMode::Apply,
            Some("off") => LockMode::Off,
            Some(other) => {
                problems.push(format!(
                    "locks.mode: `{other}` is not validate, apply or off"
                ));
                LockMode::Validate
            }
        };

        let gh_raw = raw.github.unwrap_or_default();
        let merge_method = match gh_raw.merge_method.as_deref().unwrap_or("merge") {
            "merge" => MergeMethod::Merge,
            "squash" => MergeMethod::Squash,
            "rebase" => MergeMethod::Rebase,
            other => {
                problems.push(format!(
                    "github.merge_method: `{other}` is not merge, squash or rebase"
                ));
                MergeMethod::Merge
            }
        };
        let validate_on = match gh_raw.validate_on.as_deref().unwrap_or("push") {
            "push" => ValidateOn::Push,
            "pull_request" => ValidateOn::PullRequest,
            other => {
                problems.push(format!(
                    "github.validate_on: `{other}` is not push or pull_request"
                ));
                ValidateOn::Push
            }
        };
        if let Some(repo) = &gh_raw.controller_repo {
            if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
                problems.push(format!(
                    "github.controller_repo: `{repo}` is not `owner/repo`"
                ));
            }
        }
        if gh_raw
            .bot_login
            .as_deref()
            .is_some_and(|b| b.trim().is_empty())
        {
            problems.push("github.bot_login: must not be empty (remove it for the default)".into());
        }
        let github = GithubConfig {
            bot_login: gh_raw.bot_login,
            merge_method,
            controller_repo: gh_raw.controller_repo,
            validate_on,
            allow_forks: gh_raw.allow_forks.unwrap_or(false),
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            file: file.to_path_buf(),
            config_root: resolve(raw.config_root.as_deref().unwrap_or(".")),
            modules_root: resolve(raw.modules_root.as_deref().unwrap_or("modules")),
            base_dir: base_dir.clone(),
            stacks,
            modules,
            backend,
            default_environment,
            default_branch,
            environments,
            order: raw.order.unwrap_or_default(),
            parallelism,
            policy,
            labels,
            terraform,
            approvers,
            trust,
            locks,
            promotion_ignore_keys: raw
                .promotion
                .and_then(|p| p.ignore_keys)
                .unwrap_or_else(|| vec!["environment".into(), "name".into()]),
            github,
        })
    }

    /// The branch an environment merges into and applies from.
    pub fn branch_for(&self, environment: &str) -> String {
        match self.environments.get(environment) {
            Some(env) => env.branch.clone(),
            None => default_branch_for(environment, &self.default_branch),
        }
    }

    /// The environment whose branch is `branch`, if any.
    pub fn environment_for_branch(&self, branch: &str) -> Option<&str> {
        self.environments
            .iter()
            .find(|(_, e)| e.branch == branch)
            .map(|(name, _)| name.as_str())
    }

    /// Why `environment` (as a tfvars spells it) may not be used: `None`
    /// when it is a key of `environments`, compared exactly (no case
    /// folding, no trimming: `"Production"` would otherwise get the default
    /// branch, one approval, no credentials, and skip the policies keyed on
    /// `production`). Else the problem, with a did-you-mean when one is
    /// close: `environment "prod" is not declared in tfctl.yaml (declared:
    /// development, production); did you mean "production"?`.
    pub fn undeclared_environment(&self, environment: &str) -> Option<String> {
        if self.environments.contains_key(environment) {
            return None;
        }
        Some(format!(
            "environment {environment:?} is not declared in {} (declared: {}){}",
            self.file_name(),
            declared_list(&self.environments),
            did_you_mean(environment, &self.environments)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default()
        ))
    }

    /// The config file's name for messages (`tfctl.yaml`).
    fn file_name(&self) -> String {
        self.file.file_name().map_or_else(
            || super::FILE_NAME.to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// Approvals needed to merge into `environment` (at least 1).
    pub fn approvals_for(&self, environment: &str) -> u32 {
        self.environments
            .get(environment)
            .map_or(1, |e| e.approvals.max(1))
    }
}

/// docs/DESIGN.md §2: `development→dev`, `staging→stage`, `production→prod`, other → default.
fn default_branch_for(environment: &str, default_branch: &str) -> String {
    match environment {
        "development" => "dev".into(),
        "staging" => "stage".into(),
        "production" => "prod".into(),
        _ => default_branch.into(),
    }
}

/// `terraform.pass_env`: each name must be one tfctl withholds (anything
/// else already reaches terraform, so naming it is a typo), listed once.
fn pass_env(names: Vec<String>, problems: &mut Vec<String>) -> Vec<String> {
    use crate::runner::terraform::WITHHELD_ENV;
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !WITHHELD_ENV.contains(&name.as_str()) {
            problems.push(format!(
                "terraform.pass_env: `{name}` is not withheld from terraform (only {} are)",
                WITHHELD_ENV.join(", ")
            ));
        } else if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn declared_list(environments: &BTreeMap<String, Environment>) -> String {
    let names: Vec<&str> = environments.keys().map(String::as_str).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The declared environment `given` most likely means: the same name in
/// another case or with stray spaces, the environment whose branch it names
/// (`prod`, `stage`), the one it abbreviates (`dev`, `prod`), else the
/// nearest by edit distance (at most 2, and less than half the name).
pub fn did_you_mean<'a>(
    given: &str,
    environments: &'a BTreeMap<String, Environment>,
) -> Option<&'a str> {
    let wanted = given.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let names = || environments.iter().map(|(n, e)| (n.as_str(), e));
    if let Some((name, _)) = names().find(|(n, _)| n.to_lowercase() == wanted) {
        return Some(name);
    }
    if let Some((name, _)) = names().find(|(_, e)| e.branch.to_lowercase() == wanted) {
        return Some(name);
    }
    let prefixed: Vec<&str> = names()
        .map(|(n, _)| n)
        .filter(|n| wanted.len() >= 3 && n.to_lowercase().starts_with(&wanted))
        .collect();
    if let [only] = prefixed.as_slice() {
        return Some(only);
    }
    names()
        .map(|(n, _)| (edit_distance(&wanted, &n.to_lowercase()), n))
        .filter(|&(d, n)| d <= 2 && d * 2 < n.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

fn var_files(patterns: Vec<String>, problems: &mut Vec<String>) -> VarFiles {
    if patterns.is_empty() {
        problems.push("stacks.var_files: list at least one file-name glob (or remove it)".into());
    }
    let mut globs = Vec::new();
    for pattern in &patterns {
        if pattern.contains('/') || !pattern.ends_with(".tfvars") {
            problems.push(format!(
                "stacks.var_files: `{pattern}` must be a file-name glob ending in `.tfvars`"
            ));
        }
        match Glob::new(pattern) {
            Ok(glob) => globs.push(glob.compile_matcher()),
            Err(e) => problems.push(format!("stacks.var_files: bad glob `{pattern}`: {e}")),
        }
    }
    VarFiles { patterns, globs }
}

fn build_globs(field: &str, patterns: &[String], problems: &mut Vec<String>) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        match Glob::new(pattern) {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(e) => problems.push(format!("{field}: bad glob `{pattern}`: {e}")),
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn pass_env_accepts_withheld_names_only() {
        let parse = |text: &str| crate::config::parse(text, Path::new("/repo/tfctl.yaml"));
        let cfg = parse(
            "terraform:\n  pass_env: [ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL]\n",
        )
        .unwrap();
        assert_eq!(
            cfg.terraform.pass_env,
            [
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
            ]
        );
        assert!(parse("").unwrap().terraform.pass_env.is_empty());
        let err = parse("terraform:\n  pass_env: [ACTIONS_ID_TOKEN_REQUEST_URl]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("terraform.pass_env: `ACTIONS_ID_TOKEN_REQUEST_URl` is not withheld"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod github_tests {
    use super::*;
    use crate::config::raw::RawGithub;

    fn github(bot_login: Option<&str>) -> Result<GithubConfig, Vec<String>> {
        let raw = RawConfig {
            github: Some(RawGithub {
                bot_login: bot_login.map(str::to_owned),
                ..RawGithub::default()
            }),
            ..RawConfig::default()
        };
        Config::from_raw(raw, Path::new("/repo/tfctl.yaml")).map(|c| c.github)
    }

    #[test]
    fn bot_login_is_kept_as_written_so_the_session_can_check_it() {
        assert_eq!(github(None).unwrap().bot_login, None);
        assert_eq!(
            github(Some("acme-tfctl[bot]"))
                .unwrap()
                .bot_login
                .as_deref(),
            Some("acme-tfctl[bot]")
        );
        let problems = github(Some(" ")).unwrap_err();
        assert!(problems[0].starts_with("github.bot_login:"), "{problems:?}");
    }
}
