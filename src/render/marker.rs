//! Hidden machine-readable markers in PR comments: `<!-- tfctl:<kind> {json} -->`.
//!
//! Two of them are attestations (docs/DESIGN.md §4): the validation comment
//! carries a [`ValidationMarker`], the apply comment an [`ApplyMarker`], each
//! signed by the controller's Ed25519 key ([`crate::attest`]) and bound to
//! its context (repository, PR, commits), so a copy on another PR, head or
//! repository does not verify. The merge comment's [`MergeMarker`] is only
//! a record for people: merge runs without the secret, so it cannot sign,
//! and no gate reads it.
//!
//! Must not: read keys from anywhere (they are arguments), or let a marker's
//! JSON end the HTML comment early.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::attest::{self, PublicKey, SigningKey, VerifyError};
use crate::audit::AuditEvent;
use crate::report::{ApplyResult, ApplyStatus, Changes, RunResult};

/// A marker type: its kind (`validation`, `apply`, …) and its signature slot.
pub trait Marker: Serialize + DeserializeOwned {
    /// The `<kind>` of `<!-- tfctl:<kind> … -->`; `[a-z-]+`.
    const KIND: &'static str;
    fn signature(&self) -> Option<&str>;
    fn set_signature(&mut self, signature: Option<String>);
}

/// Format version of the attestations below.
pub const ATTESTATION_VERSION: u32 = 2;

/// One policy violation as the validation attestation records it: enough to
/// say what an override excused, without the message (which may be long).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ViolationRecord {
    pub stack: String,
    /// `namespace.rule`, e.g. `terraform.access.deny`.
    pub rule: String,
    /// Stable hash of stack, rule and message (see `pipeline::violation_id`).
    pub id: String,
}

/// A passed stack's inputs as the validation attestation records them.
/// Written as one short string (`<inputs>:<state>:<add>:<change>:<destroy>`
/// and `:<head>` when carried) because the attestation of every stack of a
/// PR must fit in one comment with the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ResultRecord {
    /// `revalidate::inputs_digest` of the stack at that head (32 hex).
    pub digest: String,
    /// `revalidate::state_fingerprint` of the state it was planned against.
    pub state: String,
    pub changes: Changes,
    /// The short head (12 hex) the result was planned at, when it was
    /// itself carried.
    pub carried_from: Option<String>,
}

impl From<ResultRecord> for String {
    fn from(r: ResultRecord) -> String {
        let c = r.changes;
        let mut out = format!(
            "{}:{}:{}:{}:{}",
            r.digest, r.state, c.add, c.change, c.destroy
        );
        if let Some(head) = r.carried_from {
            out.push(':');
            out.push_str(&head);
        }
        out
    }
}

impl TryFrom<String> for ResultRecord {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        let count = |s: &str| s.parse::<u32>().map_err(|_| format!("not a count: {s}"));
        match parts[..] {
            [digest, state, add, change, destroy, ref head @ ..]
                if hex(digest) && hex(state) && head.len() <= 1 && head.iter().all(|h| hex(h)) =>
            {
                Ok(ResultRecord {
                    digest: digest.into(),
                    state: state.into(),
                    changes: Changes {
                        add: count(add)?,
                        change: count(change)?,
                        destroy: count(destroy)?,
                    },
                    carried_from: head.first().map(|h| (*h).to_string()),
                })
            }
            _ => Err(format!("not a result record: {text}")),
        }
    }
}

/// What the validation comment vouches for; merge and apply read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationMarker {
    /// [`ATTESTATION_VERSION`].
    pub version: u32,
    /// The PR's repository, `owner/name`.
    pub repository: String,
    pub pr_number: u64,
    pub head_sha: String,
    /// The PR's base branch when it was validated.
    pub base_ref: String,
    /// The single environment of the validated stacks; empty when they span
    /// several (then `environments` lists them and merge refuses).
    pub environment: String,
    /// Every environment of the validated stacks, sorted.
    pub environments: Vec<String>,
    pub target_branch: String,
    pub result: RunResult,
    /// Plan digest (see `plan::digest`, sealed) by stack id.
    pub stacks: BTreeMap<String, String>,
    /// Every deny/violation of the run, sorted.
    pub violations: Vec<ViolationRecord>,
    /// What each passed stack was planned from, so a later push of the same
    /// PR can carry its result (`revalidate`); absent in older attestations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub results: BTreeMap<String, ResultRecord>,
    /// Stacks another PR held when this head was validated: merge refuses
    /// while any is listed (the lock's release re-validates the PR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked: Vec<crate::locks::StackLock>,
    /// SHA-256 over the policy files and data documents that judged it.
    pub policy_digest: String,
    /// When the controller decided (RFC 3339).
    pub time: String,
    /// `GITHUB_RUN_ID` of the validating run, `local` outside Actions.
    pub run_id: String,
    /// `<key id>:<hex>` Ed25519 signature; absent when unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Marker for ValidationMarker {
    const KIND: &'static str = "validation";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

/// Where an apply of a merged PR stands: written signed before the first
/// `terraform apply` (`applying`) and again when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyState {
    /// Started and not finished: stacks may be partly applied.
    Applying,
    /// Ended with this result.
    Applied,
    Failed,
    Blocked,
    Cancelled,
}

impl ApplyState {
    pub fn of(result: ApplyResult) -> ApplyState {
        match result {
            ApplyResult::Applied => ApplyState::Applied,
            ApplyResult::Failed => ApplyState::Failed,
            ApplyResult::Blocked => ApplyState::Blocked,
            ApplyResult::Cancelled => ApplyState::Cancelled,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApplyState::Applying => "applying",
            ApplyState::Applied => "applied",
            ApplyState::Failed => "failed",
            ApplyState::Blocked => "blocked",
            ApplyState::Cancelled => "cancelled",
        }
    }
}

/// The apply attestation in the sticky apply comment: what the controller
/// did with one merged PR, so the next run can refuse to apply it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyMarker {
    /// [`ATTESTATION_VERSION`].
    pub version: u32,
    pub repository: String,
    /// Absent for a push that is no PR's merge (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub branch: String,
    pub state: ApplyState,
    /// The run that applied this merge, once one did: carried into every
    /// later record of the same merge (a refused replay included), so the
    /// sticky comment never forgets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<AppliedRecord>,
    /// Status by stack id.
    pub stacks: BTreeMap<String, ApplyStatus>,
    pub time: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Which run applied a merge, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub run_id: String,
    pub time: String,
}

impl ApplyMarker {
    /// The attestation of `report` for PR `pr_number` of `repository`;
    /// `applied` is the earlier record of an apply of this merge, if any.
    pub fn of(
        report: &crate::report::ApplyReport,
        repository: &str,
        pr_number: Option<u64>,
        state: ApplyState,
        applied: Option<AppliedRecord>,
        run_id: &str,
        time: &str,
    ) -> ApplyMarker {
        let applied = match state {
            ApplyState::Applied => Some(AppliedRecord {
                run_id: run_id.to_string(),
                time: time.to_string(),
            }),
            _ => applied,
        };
        ApplyMarker {
            applied,
            version: ATTESTATION_VERSION,
            repository: repository.to_string(),
            pr_number,
            merge_commit_sha: report.commit_sha.clone(),
            environment: report.environment.clone(),
            branch: report.branch.clone(),
            state,
            stacks: report
                .stacks
                .iter()
                .map(|s| (s.id.clone(), s.status))
                .collect(),
            time: time.to_string(),
            run_id: run_id.to_string(),
            signature: None,
        }
    }
}

impl Marker for ApplyMarker {
    const KIND: &'static str = "apply";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

/// tfctl's sticky merge-decision comment: the last decision and the merge
/// audit trail of the PR, so a re-run updates one comment and keeps the
/// history (capped at [`MERGE_HISTORY_LIMIT`] events). Unsigned: a record
/// for people, never evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeMarker {
    /// Marker format version (1).
    pub version: u32,
    /// The PR head the decision was about.
    pub head_sha: String,
    /// `merged` or `blocked`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit_sha: Option<String>,
    /// Merge decisions on this PR, oldest first.
    #[serde(default)]
    pub history: Vec<AuditEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Most merge decisions a [`MergeMarker`] keeps.
pub const MERGE_HISTORY_LIMIT: usize = 20;

impl Marker for MergeMarker {
    const KIND: &'static str = "merge";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

/// Most reasons, and most overridden violations, one history event keeps:
/// an override of a large PR's 1,500 findings would otherwise outgrow the
/// comment. The audit log keeps the whole event.
pub const MERGE_EVENT_ITEMS: usize = 10;

/// Appends `event` to `history`, keeping the newest [`MERGE_HISTORY_LIMIT`],
/// each with at most [`MERGE_EVENT_ITEMS`] reasons and violations.
pub fn push_history(
    history: &mut Vec<crate::audit::AuditEvent>,
    mut event: crate::audit::AuditEvent,
) {
    for list in [&mut event.reasons, &mut event.violations_overridden] {
        if list.len() > MERGE_EVENT_ITEMS {
            let more = list.len() - (MERGE_EVENT_ITEMS - 1);
            list.truncate(MERGE_EVENT_ITEMS - 1);
            list.push(format!("… and {more} more (the audit log lists every one)"));
        }
    }
    history.push(event);
    let excess = history.len().saturating_sub(MERGE_HISTORY_LIMIT);
    history.drain(..excess);
}

/// `marker` with its signature set by `signer` (dropped without one).
pub fn signed<M: Marker + Clone>(marker: &M, signer: Option<&SigningKey>) -> M {
    let mut marker = marker.clone();
    let signature = signer.map(|key| key.sign(M::KIND, &unsigned_value(&marker)));
    marker.set_signature(signature);
    marker
}

/// The first 12 hex digits of SHA-256 over the canonical JSON of the whole
/// attestation, signature included: the name the commit status gives the
/// latest one (see [`status_description`]).
pub fn fingerprint<M: Marker>(marker: &M) -> String {
    use sha2::{Digest, Sha256};
    let value = serde_json::to_value(marker).expect("markers are plain data");
    let digest = Sha256::digest(crate::plan::canonical_json(&value).as_bytes());
    hex::encode(&digest[..6])
}

/// The `tfctl/validate` status description: `summary` cut so that the
/// attestation's fingerprint always fits GitHub's 140 characters. The
/// status is append-only and records its creator, so the newest one by the
/// bot names the attestation that is current; an older one pasted back
/// into the comment does not match it.
pub fn status_description(summary: &str, fingerprint: &str) -> String {
    let suffix = format!(" [attestation {fingerprint}]");
    let room = STATUS_DESCRIPTION_CHARS.saturating_sub(suffix.chars().count());
    let mut cut: String = summary.chars().take(room).collect();
    if cut.chars().count() < summary.chars().count() {
        cut.pop();
        cut.push('…');
    }
    format!("{cut}{suffix}")
}

/// The fingerprint a status description names, if it names one.
pub fn fingerprint_in(description: &str) -> Option<&str> {
    let rest = description.rsplit_once(" [attestation ")?.1;
    let fp = rest.strip_suffix(']')?;
    (fp.len() == 12 && fp.bytes().all(|b| b.is_ascii_hexdigit())).then_some(fp)
}

/// GitHub's limit on a commit status description.
const STATUS_DESCRIPTION_CHARS: usize = 140;

/// `<!-- tfctl:<kind> {json} -->`, signed with `signer` when given (any
/// signature already in `marker` is replaced, or dropped without a key).
/// The JSON has `<`, `>` and `&` escaped as `\u003c`, `\u003e`, `\u0026`, so
/// it can never contain `-->` and end the comment early.
pub fn render<M: Marker + Clone>(marker: &M, signer: Option<&SigningKey>) -> String {
    to_comment(&signed(marker, signer))
}

/// `<!-- tfctl:<kind> {json} -->` of `marker` as it is (signature kept).
pub fn to_comment<M: Marker>(marker: &M) -> String {
    let json = serde_json::to_string(marker).expect("markers are plain data");
    format!("{}{} -->", prefix::<M>(), escape_json(&json))
}

/// The first marker of kind `M::KIND` in `body` that parses; text around it
/// is ignored.
pub fn find<M: Marker>(body: &str) -> Option<M> {
    let open = prefix::<M>();
    spans(body, M::KIND).find_map(|(start, end)| {
        let inner = &body[start + open.len()..end - SUFFIX.len()];
        serde_json::from_str(inner.trim()).ok()
    })
}

/// Checks the marker's signature against `keys` (any of them: rotation).
pub fn verify<M: Marker>(marker: &M, keys: &[PublicKey]) -> Result<(), VerifyError> {
    attest::verify(M::KIND, &unsigned_value(marker), marker.signature(), keys)
}

/// What a comment says when its attestation carries no signature
/// (`trust.allow_unsigned`, the demo setting).
pub const UNSIGNED_NOTE: &str = "> ⚠️ **Unsigned.** No `TFCTL_SIGNING_KEY` signed this: merge and apply accept it only because `trust.allow_unsigned` is set, a demo setting under which anyone who can edit a comment can forge a verdict.";

/// `body` with `note` as its own paragraph right after the leading marker
/// line (so a cut at the comment limit never drops it).
pub fn with_note(body: &str, note: &str) -> String {
    match body.split_once('\n') {
        Some((first, rest)) if first.starts_with("<!-- tfctl:") => {
            format!("{first}\n{note}\n\n{rest}")
        }
        _ => format!("{note}\n\n{body}"),
    }
}

/// `<!-- tfctl:<kind> ` — how tfctl's comments of one kind are found.
pub fn prefix<M: Marker>() -> String {
    format!("<!-- tfctl:{} ", M::KIND)
}

/// Byte ranges `start..end` of every `<!-- tfctl:<kind> … -->` in `body`,
/// in order; with `kind` empty, of every tfctl marker of any kind.
pub(crate) fn spans<'a>(body: &'a str, kind: &str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let open = if kind.is_empty() {
        "<!-- tfctl:".to_string()
    } else {
        format!("<!-- tfctl:{kind} ")
    };
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + body.get(from..)?.find(&open)?;
        let end = start + body[start..].find(SUFFIX)? + SUFFIX.len();
        from = end;
        Some((start, end))
    })
}

const SUFFIX: &str = "-->";

/// The marker as JSON without its `signature`: what is signed.
fn unsigned_value<M: Marker>(marker: &M) -> serde_json::Value {
    let mut value = serde_json::to_value(marker).expect("markers are plain data");
    if let Some(map) = value.as_object_mut() {
        map.remove("signature");
    }
    value
}

/// `<`, `>`, `&` only occur inside JSON strings, where `\uXXXX` means the same.
fn escape_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> ValidationMarker {
        ValidationMarker {
            version: ATTESTATION_VERSION,
            repository: "acme/config".into(),
            pr_number: 7,
            head_sha: "0123abc".into(),
            base_ref: "main".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result: RunResult::Passed,
            stacks: BTreeMap::from([("S3/logs".into(), "ab".repeat(32))]),
            violations: Vec::new(),
            results: Default::default(),
            policy_digest: "cd".repeat(32),
            time: "2026-12-01T10:00:00Z".into(),
            run_id: "42".into(),
            signature: None,
            locked: Vec::new(),
        }
    }

    #[test]
    fn rendered_markers_are_found_in_surrounding_text() {
        let m = marker();
        let body = format!("hello\n{}\nworld <!-- other -->", render(&m, None));
        assert_eq!(find::<ValidationMarker>(&body), Some(m));
    }

    #[test]
    fn json_with_arrows_cannot_end_the_comment_early() {
        let key = SigningKey::generate();
        let mut m = marker();
        m.environment = "a-->b<c&d".into();
        let text = render(&m, Some(&key));
        assert_eq!(text.matches("-->").count(), 1, "{text}");
        let found: ValidationMarker = find(&text).unwrap();
        assert_eq!(found.environment, "a-->b<c&d");
        assert_eq!(verify(&found, &[key.public()]), Ok(()));
    }

    #[test]
    fn signatures_bind_every_field_and_the_key() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let signed: ValidationMarker = find(&render(&marker(), Some(&key))).unwrap();
        assert_eq!(verify(&signed, &keys), Ok(()));
        let other = SigningKey::generate();
        assert!(matches!(
            verify(&signed, &[other.public()]),
            Err(VerifyError::UnknownKey(_))
        ));
        for edit in [
            |m: &mut ValidationMarker| m.result = RunResult::Failed,
            |m: &mut ValidationMarker| m.pr_number = 8,
            |m: &mut ValidationMarker| m.repository = "acme/other".into(),
            |m: &mut ValidationMarker| m.head_sha = "fff".into(),
            |m: &mut ValidationMarker| m.policy_digest = "00".into(),
            |m: &mut ValidationMarker| {
                m.stacks.insert("IAM/x".into(), "00".into());
            },
        ] {
            let mut tampered = signed.clone();
            edit(&mut tampered);
            assert_eq!(verify(&tampered, &keys), Err(VerifyError::Mismatch));
        }
        assert_eq!(verify(&marker(), &keys), Err(VerifyError::Unsigned));
    }

    #[test]
    fn a_validation_signature_does_not_verify_an_apply_marker() {
        let key = SigningKey::generate();
        let apply = ApplyMarker {
            version: ATTESTATION_VERSION,
            repository: "acme/config".into(),
            pr_number: Some(7),
            merge_commit_sha: Some("m".into()),
            environment: Some("production".into()),
            branch: "prod".into(),
            state: ApplyState::Applied,
            applied: None,
            stacks: BTreeMap::new(),
            time: "t".into(),
            run_id: "1".into(),
            signature: None,
        };
        let mut signed: ApplyMarker = find(&render(&apply, Some(&key))).unwrap();
        assert_eq!(verify(&signed, &[key.public()]), Ok(()));
        // The same fields signed as another kind do not verify as this one.
        signed.signature = Some(key.sign("validation", &unsigned_value(&apply)));
        assert_eq!(verify(&signed, &[key.public()]), Err(VerifyError::Mismatch));
    }

    #[test]
    fn merge_markers_round_trip_and_are_not_validation_markers() {
        let m = MergeMarker {
            version: 1,
            head_sha: "0123abc".into(),
            outcome: "merged".into(),
            environment: Some("production".into()),
            branch: Some("prod".into()),
            merge_commit_sha: Some("feed".into()),
            history: vec![AuditEvent {
                time: "2026-11-21T10:00:00Z".into(),
                action: "merge".into(),
                actor: "bob".into(),
                pull_request: "o/r#1".into(),
                head_sha: "0123abc".into(),
                environment: Some("production".into()),
                outcome: "merged".into(),
                reasons: vec!["approved by <b>bob</b> --> x".into()],
                violations_overridden: Vec::new(),
                run_url: None,
            }],
            signature: None,
        };
        let text = render(&m, None);
        assert!(text.starts_with("<!-- tfctl:merge "), "{text}");
        assert_eq!(text.matches("-->").count(), 1, "{text}");
        let back: MergeMarker = find(&text).unwrap();
        assert_eq!(back.history, m.history);
        assert_eq!(find::<ValidationMarker>(&text), None);
    }

    #[test]
    fn the_status_names_the_attestation_within_githubs_limit() {
        let key = SigningKey::generate();
        let fp = fingerprint(&signed(&marker(), Some(&key)));
        assert_eq!(fp.len(), 12);
        assert_ne!(fp, fingerprint(&signed(&marker(), None)));
        let short = status_description("4 stacks: 4 passed in 6.4s", &fp);
        assert_eq!(fingerprint_in(&short), Some(fp.as_str()));
        let long = status_description(&"x".repeat(500), &fp);
        assert_eq!(long.chars().count(), STATUS_DESCRIPTION_CHARS);
        assert_eq!(fingerprint_in(&long), Some(fp.as_str()));
        assert_eq!(fingerprint_in("4 stacks: 4 passed"), None);
        assert_eq!(fingerprint_in("x [attestation nothex!!!!!!]"), None);
    }

    #[test]
    fn the_unsigned_note_follows_the_marker() {
        let body = format!("{}\n### verdict\n", render(&marker(), None));
        let noted = with_note(&body, UNSIGNED_NOTE);
        let lines: Vec<&str> = noted.lines().collect();
        assert!(lines[0].starts_with("<!-- tfctl:validation "));
        assert_eq!(lines[1], UNSIGNED_NOTE);
        assert_eq!(find::<ValidationMarker>(&noted), Some(marker()));
        assert_eq!(with_note("text", "n"), "n\n\ntext");
    }

    #[test]
    fn a_marker_of_another_kind_is_not_found() {
        let body = render(&marker(), None).replace("tfctl:validation", "tfctl:apply");
        assert_eq!(find::<ValidationMarker>(&body), None);
    }

    #[test]
    fn a_history_event_keeps_a_bounded_list_and_says_how_many_more() {
        let event = |n: usize| crate::audit::AuditEvent {
            violations_overridden: (0..n).map(|i| format!("S3/a: main.deny ({i})")).collect(),
            ..crate::audit::AuditEvent::new(
                "override",
                "sec-lead",
                "a/b#1".into(),
                "c0",
                "merged",
                None,
            )
        };
        let mut history = Vec::new();
        push_history(&mut history, event(1_500));
        let kept = &history[0].violations_overridden;
        assert_eq!(kept.len(), MERGE_EVENT_ITEMS);
        assert_eq!(kept[0], "S3/a: main.deny (0)");
        assert_eq!(
            kept.last().unwrap(),
            "… and 1491 more (the audit log lists every one)"
        );
        push_history(&mut history, event(MERGE_EVENT_ITEMS));
        assert_eq!(
            history[1].violations_overridden,
            event(MERGE_EVENT_ITEMS).violations_overridden
        );
        for _ in 0..MERGE_HISTORY_LIMIT {
            push_history(&mut history, event(1));
        }
        assert_eq!(history.len(), MERGE_HISTORY_LIMIT);
    }
}
