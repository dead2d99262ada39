//! A validation attestation too large to sit beside its report, spread over
//! continuation comments (docs/DESIGN.md §4, "Large pull requests").
//!
//! Each stack costs the attestation about 130 characters and twice its id,
//! so one 65,536-character comment attests about 350 stacks beside the
//! report. Past that, the validation comment carries a header naming the
//! attestation's fingerprint and how many parts it has, and each part is
//! its own comment by the bot: `<!-- tfctl:attestation-part <fp> <i>/<n>
//! <chunk> -->` and one line for people. The chunks, joined in order, are
//! the JSON of the one signed [`ValidationMarker`]; nothing about the parts
//! is trusted: the joined marker is verified, bound and matched against the
//! published status exactly as an inline one is (`evidence`). An edited or
//! missing part gives a marker that does not parse or does not verify.
//!
//! Pure: no IO.

use std::collections::BTreeMap;

use super::marker::{self, ValidationMarker};

/// `<kind>` of a part comment's marker.
pub const PART_KIND: &str = "attestation-part";

/// `<!-- tfctl:attestation-part ` — how the part comments are found.
pub fn part_prefix() -> String {
    format!("<!-- tfctl:{PART_KIND} ")
}

/// `<kind>` of the header the validation comment carries instead of the
/// marker. It starts with `validation`, so the sticky validation comment is
/// still found by its prefix, but it is not a [`ValidationMarker`].
const HEADER_KIND: &str = "validation-parts";

/// More parts than this (about 6,000 stacks) and validate refuses the pull
/// request before writing anything: the PR would be a wall of comments.
pub const MAX_PARTS: usize = 24;

/// Room a part comment keeps for its marker header and its line for people.
const PART_OVERHEAD: usize = 1_024;

/// Room the validation comment keeps beside an inline attestation for the
/// verdict, the counts and the failures (`split::fit` keeps markers whole
/// and cuts the rest).
pub const REPORT_ROOM: usize = 8_192;

/// Where a rendered attestation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// What the validation comment carries: the marker itself, or the
    /// header naming its parts.
    pub in_comment: String,
    /// The continuation comments' bodies, in order; empty when the marker
    /// fits in the validation comment.
    pub parts: Vec<String>,
}

/// Places the signed `attestation` for comments of `limit` characters:
/// inline while it leaves [`REPORT_ROOM`] for the report, else in parts.
/// The error (more than [`MAX_PARTS`]) says how large it is and what to do.
pub fn place(attestation: &ValidationMarker, limit: usize) -> Result<Placement, String> {
    let rendered = marker::to_comment(attestation);
    if rendered.chars().count() + REPORT_ROOM <= limit {
        return Ok(Placement {
            in_comment: rendered,
            parts: Vec::new(),
        });
    }
    let fp = marker::fingerprint(attestation);
    let json = &rendered[marker::prefix::<ValidationMarker>().len()..rendered.len() - 4];
    let chunks = chunk(json, limit.saturating_sub(PART_OVERHEAD).max(1));
    if chunks.len() > MAX_PARTS {
        return Err(format!(
            "{} stacks: their attestation is {} characters, more than {MAX_PARTS} comments of \
             {limit} hold: split the pull request",
            attestation.stacks.len(),
            rendered.chars().count()
        ));
    }
    let n = chunks.len();
    let parts = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            format!(
                "<!-- tfctl:{PART_KIND} {fp} {}/{n} {chunk} -->\n🔏 **tfctl attestation** `{fp}`, \
                 part {} of {n}, for `{}`: the signed record `tfctl merge` and `tfctl apply` \
                 read. Nothing here to review.\n",
                i + 1,
                i + 1,
                super::short(&attestation.head_sha)
            )
        })
        .collect();
    Ok(Placement {
        in_comment: format!("<!-- tfctl:{HEADER_KIND} {fp} {n} -->"),
        parts,
    })
}

/// Whether the apply comment can hold the apply record of `stack_ids` (each
/// id with its status, beside [`REPORT_ROOM`]): validate refuses a larger
/// PR, because an apply whose record could not be written could not refuse
/// its own replay. About 2,000 stacks of 16-character ids.
pub fn apply_record_fits<'a>(
    stack_ids: impl ExactSizeIterator<Item = &'a str>,
    limit: usize,
) -> Result<(), String> {
    let stacks = stack_ids.len();
    // `"<id>":"not_applied",` for each, and the record's other fields.
    let size: usize = stack_ids.map(|id| id.chars().count() + 17).sum::<usize>() + 1_024;
    if size + REPORT_ROOM <= limit {
        return Ok(());
    }
    Err(format!(
        "{stacks} stacks: their apply record would be about {size} characters, more than one \
         apply comment of {limit} holds: split the pull request"
    ))
}

/// The line the validation comment carries at its top when the
/// attestation is in parts, so a reviewer knows what the comments below are.
pub fn note(placement: &Placement) -> String {
    format!(
        "> 🔏 This validation's signed attestation is too large for this comment: it is in the {} \
         `tfctl attestation` comments below, which merge and apply read. Nothing there to review.",
        placement.parts.len()
    )
}

/// `text` in pieces of at most `size` characters (never inside a char).
fn chunk(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .nth(size)
            .map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    out
}

/// One part as a comment states it.
struct Part<'a> {
    fingerprint: &'a str,
    index: usize,
    of: usize,
    chunk: &'a str,
}

fn parse_part(span: &str) -> Option<Part<'_>> {
    let inner = span.strip_prefix(&part_prefix())?.strip_suffix(" -->")?;
    let mut fields = inner.splitn(3, ' ');
    let fingerprint = fields.next()?;
    let (index, of) = fields.next()?.split_once('/')?;
    let (index, of) = (index.parse().ok()?, of.parse().ok()?);
    let chunk = fields.next()?;
    (1..=of).contains(&index).then_some(Part {
        fingerprint,
        index,
        of,
        chunk,
    })
}

/// Every attestation whose parts are all present in `comments` (each a body
/// and the time it last changed), with the latest of those times. Parts
/// are grouped by the fingerprint they claim and joined in order; a group
/// with a part missing, twice, or disagreeing on the count, or whose joined
/// text is not a marker, gives nothing. Not verified here.
pub fn assemble<'a>(
    comments: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, ValidationMarker)> {
    type Group<'a> = (usize, BTreeMap<usize, &'a str>, &'a str, bool);
    let mut groups: BTreeMap<&str, Group<'a>> = BTreeMap::new();
    for (body, time) in comments {
        for (start, end) in marker::spans(body, PART_KIND) {
            let Some(part) = parse_part(&body[start..end]) else {
                continue;
            };
            let group =
                groups
                    .entry(part.fingerprint)
                    .or_insert((part.of, BTreeMap::new(), time, true));
            let fresh = group.1.insert(part.index, part.chunk).is_none();
            group.3 &= fresh && group.0 == part.of;
            group.2 = group.2.max(time);
        }
    }
    groups
        .into_values()
        .filter(|(of, chunks, _, consistent)| *consistent && chunks.len() == *of)
        .filter_map(|(_, chunks, time, _)| {
            let json: String = chunks.into_values().collect();
            let marker: ValidationMarker = serde_json::from_str(&json).ok()?;
            Some((time.to_string(), marker))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::SigningKey;
    use crate::report::RunResult;

    fn marker_of(stacks: usize) -> ValidationMarker {
        ValidationMarker {
            version: marker::ATTESTATION_VERSION,
            repository: "acme/infra".into(),
            pr_number: 7,
            head_sha: "c0ffee".repeat(7)[..40].to_string(),
            base_ref: "main".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result: RunResult::Passed,
            stacks: (0..stacks)
                .map(|i| (format!("S3/stack-{i:06}"), format!("{i:064x}")))
                .collect(),
            violations: Vec::new(),
            results: BTreeMap::new(),
            locked: Vec::new(),
            policy_digest: "0".repeat(64),
            time: "2026-12-03T10:00:00Z".into(),
            run_id: "77".into(),
            signature: None,
        }
    }

    /// One key for every test of this module.
    fn key() -> &'static SigningKey {
        static KEY: std::sync::LazyLock<SigningKey> =
            std::sync::LazyLock::new(SigningKey::generate);
        &KEY
    }

    fn signed(stacks: usize) -> ValidationMarker {
        marker::signed(&marker_of(stacks), Some(key()))
    }

    fn as_comments(p: &Placement) -> Vec<(&str, &str)> {
        p.parts
            .iter()
            .map(|b| (b.as_str(), "2026-12-03T10:00:01Z"))
            .collect()
    }

    #[test]
    fn a_small_attestation_stays_in_the_validation_comment() {
        let m = signed(10);
        let p = place(&m, 65_536).unwrap();
        assert!(p.parts.is_empty());
        assert_eq!(p.in_comment, marker::to_comment(&m));
    }

    #[test]
    fn a_large_one_is_split_into_parts_that_join_into_the_same_signed_marker() {
        let m = signed(1_000);
        let p = place(&m, 65_536).unwrap();
        assert!(p.parts.len() >= 2, "{} parts", p.parts.len());
        for part in &p.parts {
            assert!(part.chars().count() <= 65_536, "{}", part.chars().count());
        }
        let fp = marker::fingerprint(&m);
        assert_eq!(
            p.in_comment,
            format!("<!-- tfctl:validation-parts {fp} {} -->", p.parts.len())
        );
        let joined = assemble(as_comments(&p));
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].1, m);
        assert_eq!(marker::fingerprint(&joined[0].1), fp);
        marker::verify(&joined[0].1, &[key().public()]).expect("the joined marker verifies");
    }

    #[test]
    fn parts_are_joined_whatever_order_the_comments_come_in() {
        let p = place(&signed(1_000), 65_536).unwrap();
        let mut comments = as_comments(&p);
        comments.reverse();
        assert_eq!(assemble(comments).len(), 1);
    }

    #[test]
    fn a_missing_duplicated_or_miscounted_part_joins_into_nothing() {
        let p = place(&signed(1_000), 65_536).unwrap();
        let all = as_comments(&p);
        assert_eq!(
            assemble(all[1..].to_vec()),
            Vec::new(),
            "first part missing"
        );
        let mut twice = all.clone();
        twice.push(all[0]);
        assert_eq!(assemble(twice), Vec::new(), "a part twice");
        let recounted = p.parts[0].replacen(&format!("1/{}", all.len()), "1/9", 1);
        let mut miscounted = all.clone();
        miscounted[0] = (recounted.as_str(), all[0].1);
        assert_eq!(assemble(miscounted), Vec::new(), "counts disagree");
        assert_eq!(assemble(all).len(), 1, "positive control");
    }

    #[test]
    fn an_edited_part_does_not_verify() {
        let p = place(&signed(1_000), 65_536).unwrap();
        // A writer changes one digest inside the second part.
        let edited = p.parts[1].replacen(
            "00000000000000000000000000000000000",
            "00000000000000000000000000000000001",
            1,
        );
        assert_ne!(edited, p.parts[1]);
        let comments = vec![(p.parts[0].as_str(), "t"), (edited.as_str(), "t")]
            .into_iter()
            .chain(p.parts[2..].iter().map(|b| (b.as_str(), "t")));
        let joined = assemble(comments);
        assert_eq!(joined.len(), 1, "still JSON");
        assert!(marker::verify(&joined[0].1, &[key().public()]).is_err());
    }

    #[test]
    fn the_latest_part_time_is_the_attestation_s_time() {
        let p = place(&signed(1_000), 65_536).unwrap();
        let times = [
            "2026-12-03T10:00:01Z",
            "2026-12-03T10:00:09Z",
            "2026-12-03T10:00:02Z",
        ];
        let comments = p
            .parts
            .iter()
            .zip(times.iter().cycle())
            .map(|(b, t)| (b.as_str(), *t));
        assert_eq!(assemble(comments)[0].0, "2026-12-03T10:00:09Z");
    }

    #[test]
    fn more_parts_than_the_cap_are_refused_naming_the_fix() {
        let err = place(&signed(1_000), 4_096).unwrap_err();
        assert!(err.contains("split the pull request"), "{err}");
        assert!(
            err.starts_with("1000 stacks: their attestation is "),
            "{err}"
        );
    }

    #[test]
    fn a_pr_whose_apply_record_would_not_fit_is_refused() {
        let ids = |n: usize| {
            (0..n)
                .map(|i| format!("S3/stack-{i:06}"))
                .collect::<Vec<_>>()
        };
        let fits = |n: usize| apply_record_fits(ids(n).iter().map(String::as_str), 65_536);
        assert_eq!(fits(1_000), Ok(()));
        let err = fits(3_000).unwrap_err();
        assert!(err.starts_with("3000 stacks: their apply record"), "{err}");
        assert!(err.ends_with("split the pull request"), "{err}");
    }

    #[test]
    fn chunks_never_split_a_character() {
        assert_eq!(chunk("aé€b", 2), vec!["aé", "€b"]);
        assert_eq!(chunk("", 3), Vec::<&str>::new());
    }
}
