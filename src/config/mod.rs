//! `tfctl.yaml`: finding it, reading it, and turning it into a [`Config`].
//!
//! `raw` is the file as written (and its JSON Schema); `model` is the
//! validated form. This module is the only one that reads the config file.

pub mod model;
pub mod raw;

use std::path::{Path, PathBuf};

pub use model::{Config, LockMode};

use crate::error::Error;

/// The config file name searched for when no `--config` is given.
pub const FILE_NAME: &str = "tfctl.yaml";

/// Finds `tfctl.yaml`: the explicit path, else the first one found walking
/// up from `start`.
pub fn locate(explicit: Option<&Path>, start: &Path) -> Result<PathBuf, Error> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        return Err(Error::input(format!(
            "{}: config file not found",
            path.display()
        )));
    }
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(Error::input(format!(
        "no {FILE_NAME} found in {} or any parent directory (pass --config PATH)",
        start.display()
    )))
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    parse(&text, path)
}

/// Parses config text that came from `path` (used in messages and to resolve
/// relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
    let raw: raw::RawConfig = if text.trim().is_empty() {
        raw::RawConfig::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| yaml_error(path, &e))?
    };
    Config::from_raw(raw, path).map_err(|problems| {
        Error::input(
            problems
                .iter()
                .map(|p| format!("{}: {p}", path.display()))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// `file:line:col: message`, from `serde_yaml`'s location.
fn yaml_error(path: &Path, e: &serde_yaml::Error) -> Error {
    let msg = e.to_string();
    // serde_yaml appends " at line L column C"; put the location up front instead.
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    match e.location() {
        Some(loc) => Error::input_at(
            path.display().to_string(),
            loc.line(),
            Some(loc.column()),
            msg,
        ),
        None => Error::input(format!("{}: {msg}", path.display())),
    }
}

/// The JSON Schema of `tfctl.yaml`, for `tfctl schema`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawConfig);
    serde_json::to_value(schema).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/repo/tfctl.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let cfg = parse("", Path::new("/repo/tfctl.yaml")).unwrap();
        assert_eq!(cfg.parallelism, 10);
        assert_eq!(cfg.policy.namespaces, vec!["main"]);
        assert_eq!(cfg.branch_for("production"), "prod");
        assert_eq!(cfg.branch_for("sandbox"), "main");
        assert_eq!(cfg.modules.module_for("S3"), "s3");
        assert_eq!(cfg.config_root, Path::new("/repo/."));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse_err("version: 1\nparalelism: 3\n");
        assert!(
            err.starts_with("/repo/tfctl.yaml:2:1: unknown field `paralelism`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_field_and_line() {
        let err = parse_err("version: 1\nparallelism: lots\n");
        assert!(err.starts_with("/repo/tfctl.yaml:2:"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn semantic_problems_are_reported_together() {
        let err = parse_err("parallelism: 0\ngithub:\n  merge_method: fast\n");
        assert!(err.contains("parallelism: must be at least 1"), "{err}");
        assert!(err.contains("github.merge_method: `fast`"), "{err}");
    }

    const ENVS: &str =
        "environments:\n  development: {}\n  staging: {}\n  production:\n    approvals: 2\n";

    #[test]
    fn environments_are_matched_exactly_with_a_did_you_mean() {
        let cfg = parse(ENVS, Path::new("/repo/tfctl.yaml")).unwrap();
        assert_eq!(cfg.undeclared_environment("production"), None);
        let declared = "(declared: development, production, staging)";
        for (given, meant) in [
            ("Production", Some("production")),
            ("production ", Some("production")),
            (" PRODUCTION", Some("production")),
            ("prod", Some("production")),
            ("stage", Some("staging")),
            ("dev", Some("development")),
            ("prodution", Some("production")),
            ("developement", Some("development")),
            ("sandbox", None),
            ("p", None),
        ] {
            let msg = cfg.undeclared_environment(given).expect(given);
            let hint = meant.map_or(String::new(), |m| format!("; did you mean \"{m}\"?"));
            assert_eq!(
                msg,
                format!("environment {given:?} is not declared in tfctl.yaml {declared}{hint}")
            );
        }
        // A newline cannot break the message's line.
        assert!(!cfg.undeclared_environment("a\nb").unwrap().contains('\n'));
    }

    #[test]
    fn without_an_environments_section_the_three_standard_ones_are_declared() {
        let cfg = parse("", Path::new("/repo/tfctl.yaml")).unwrap();
        let names: Vec<&str> = cfg.environments.keys().map(String::as_str).collect();
        assert_eq!(names, ["development", "production", "staging"]);
        assert!(cfg.undeclared_environment("sandbox").is_some());
    }

    #[test]
    fn default_environment_must_be_declared_and_reported_with_the_rest() {
        let err = parse_err(&format!(
            "{ENVS}default_environment: Development\nparallelism: 0\n"
        ));
        assert!(
            err.contains(
                "/repo/tfctl.yaml: default_environment: \"Development\" is not declared in environments \
                 (declared: development, production, staging); did you mean \"development\"?"
            ),
            "{err}"
        );
        assert!(err.contains("parallelism: must be at least 1"), "{err}");
        // The default `development` must be declared too.
        let err = parse_err("environments:\n  production: {}\n");
        assert!(
            err.contains("default_environment: \"development\" is not declared"),
            "{err}"
        );
        let err = parse_err("environments: {}\n");
        assert!(
            err.contains("environments: declare at least one environment"),
            "{err}"
        );
    }

    #[test]
    fn local_backend_path_is_absolute_and_templated() {
        let cfg = parse("", Path::new("/repo/tfctl.yaml")).unwrap();
        let vars = model::TemplateVars {
            id: "S3/a",
            service: "S3",
            name: "a",
            environment: "dev",
        };
        let settings = cfg.backend.settings_for(&vars, &cfg.base_dir);
        assert_eq!(
            settings,
            vec![(
                "path".to_string(),
                "/repo/.tfctl/state/S3/dev/a/terraform.tfstate".to_string()
            )]
        );
    }

    #[test]
    fn layouts_name_the_parts_of_a_stack_path() {
        use model::{Layout, PathRoles};
        let default = Layout::parse(model::DEFAULT_LAYOUT).unwrap();
        assert_eq!(
            default.roles("S3/sandbox/logs-dev").unwrap(),
            PathRoles {
                service: "S3",
                name: "logs-dev",
                environment: None
            }
        );
        let live = Layout::parse("live/{environment}/{service}/{name}").unwrap();
        assert_eq!(
            live.roles("live/production/network/vpc").unwrap(),
            PathRoles {
                service: "network",
                name: "vpc",
                environment: Some("production")
            }
        );
        assert!(live
            .roles("stage/production/network/vpc")
            .unwrap_err()
            .contains("`stage` where `live` belongs"));
        for (bad, problem) in [
            ("{service}", "must end with `{name}`"),
            ("{name}/{name}", "has `{name}` twice"),
            ("{environment}/{name}", "needs `{service}`"),
            ("{service}/{env}/{name}", "`{env}` is not"),
            ("{service}/{service}/{name}", "has `{service}` twice"),
        ] {
            let err = parse_err(&format!("stacks:\n  layout: \"{bad}\"\n"));
            assert!(
                err.contains("stacks.layout: ") && err.contains(problem),
                "{bad}: {err}"
            );
        }
        let err = parse_err("stacks:\n  var_files: [\"a/*.tfvars\", \"x.json\"]\nenvironments:\n  development:\n    variables:\n      tfctl_stack_id: x\n");
        assert!(
            err.contains("`a/*.tfvars` must be a file-name glob"),
            "{err}"
        );
        assert!(err.contains("`x.json` must be a file-name glob"), "{err}");
        assert!(
            err.contains(
                "environments.development.variables.tfctl_stack_id: variables named tfctl_*"
            ),
            "{err}"
        );
    }
}
