//! Matrix shards' reports → one list of stack reports, for
//! `tfctl report`. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Error;
use crate::report::{RunReport, StackReport};

/// One matrix shard's report and the file it was read from (named in
/// errors).
#[derive(Debug, Clone)]
pub struct Shard {
    pub file: String,
    pub report: RunReport,
}

/// docs/DESIGN.md §6: the stack reports of matrix shards as one list, for
/// [`report`] to order by the run's waves and judge. Every id of `expected`
/// (the run's stacks) must come from exactly one shard; a stack in two
/// shards, a stack the run does not have, an expected stack no shard
/// reported, or a report version other than 1 is an input error listing
/// every such problem. Also returns the longest shard's duration: shards
/// run side by side, so that is the run's wall time.
pub fn merge_shards(
    expected: &[String],
    shards: &[Shard],
) -> Result<(Vec<StackReport>, Duration), Error> {
    let mut problems = Vec::new();
    let wanted: std::collections::HashSet<&str> = expected.iter().map(String::as_str).collect();
    let mut from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut stacks = Vec::new();
    let mut longest = 0;
    for shard in shards {
        if shard.report.version != 1 {
            problems.push(format!(
                "{}: report version {} (tfctl reads version 1)",
                shard.file, shard.report.version
            ));
            continue;
        }
        longest = longest.max(shard.report.duration_ms);
        for stack in &shard.report.stacks {
            if let Some(first) = from.insert(&stack.id, &shard.file) {
                problems.push(format!(
                    "{}: stack {} is also in {first} (each stack belongs to one shard)",
                    shard.file, stack.id
                ));
            } else if !wanted.contains(stack.id.as_str()) {
                problems.push(format!(
                    "{}: stack {} is not one of this run's stacks",
                    shard.file, stack.id
                ));
            } else {
                stacks.push(stack.clone());
            }
        }
    }
    for id in expected {
        if !from.contains_key(id.as_str()) {
            problems.push(format!(
                "{id}: no shard reported this stack (a shard is missing)"
            ));
        }
    }
    if problems.is_empty() {
        Ok((stacks, Duration::from_millis(longest)))
    } else {
        Err(Error::input(problems.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{RunResult, StackStatus};

    fn stack(id: &str, status: StackStatus) -> StackReport {
        StackReport::sample(id, "production", status)
    }

    fn shard(file: &str, ms: u64, stacks: Vec<StackReport>) -> Shard {
        Shard {
            file: file.into(),
            report: RunReport::sample(stacks, ms),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn shards_merge_into_every_expected_stack_once() {
        let (stacks, took) = merge_shards(
            &ids(&["IAM/a", "S3/b", "S3/c"]),
            &[
                shard("s1.json", 40, vec![stack("S3/b", StackStatus::Failed)]),
                shard(
                    "s0.json",
                    70,
                    vec![
                        stack("IAM/a", StackStatus::Passed),
                        stack("S3/c", StackStatus::Passed),
                    ],
                ),
            ],
        )
        .unwrap();
        let mut got: Vec<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, ["IAM/a", "S3/b", "S3/c"]);
        assert_eq!(took, Duration::from_millis(70));
        assert_eq!(RunReport::judge(&stacks), RunResult::Failed);
    }

    #[test]
    fn duplicate_unknown_and_missing_stacks_are_all_named() {
        let err = merge_shards(
            &ids(&["IAM/a", "S3/b", "S3/c"]),
            &[
                shard("s0.json", 1, vec![stack("IAM/a", StackStatus::Passed)]),
                shard(
                    "s1.json",
                    1,
                    vec![
                        stack("IAM/a", StackStatus::Passed),
                        stack("KMS/z", StackStatus::Passed),
                        stack("S3/b", StackStatus::Passed),
                    ],
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "s1.json: stack IAM/a is also in s0.json (each stack belongs to one shard)\n\
             s1.json: stack KMS/z is not one of this run's stacks\n\
             S3/c: no shard reported this stack (a shard is missing)"
        );
    }

    #[test]
    fn an_unknown_report_version_is_refused() {
        let mut s = shard("s0.json", 1, vec![stack("IAM/a", StackStatus::Passed)]);
        s.report.version = 2;
        let err = merge_shards(&ids(&["IAM/a"]), &[s]).unwrap_err();
        assert!(
            err.message
                .starts_with("s0.json: report version 2 (tfctl reads version 1)"),
            "{}",
            err.message
        );
    }
}
