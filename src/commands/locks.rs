//! `tfctl locks` (who holds what) and `tfctl unlock` (a special approver
//! frees a stuck lock, audited): docs/DESIGN.md §8. Both read the locks of
//! the repository tfctl runs in; a holder's standing is asked of GitHub, so
//! `locks` says which holders hold nothing any more.

use std::path::Path;

use crate::actions::event::{DispatchPayload, Event, EVENT_TYPE_VALIDATE};
use crate::audit::{self, AuditEvent};
use crate::cli::{LocksArgs, LocksFormat, UnlockArgs};
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::github::RepoRef;
use crate::locks::{LockRecord, LockState};

use super::gh::{GhSession, RunRecord};

/// Lists every stack lock: held ones with their holder's standing now.
pub fn run(config: Option<&Path>, args: LocksArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::open(ctx, &cfg.github, &args.github)?;
    let store = super::locking::LockStore::of(&session, &cfg);
    let rows = GhSession::runtime()?.block_on(async {
        let mut rows = Vec::new();
        for current in store.list().await? {
            let record = current.record;
            let stale = match record.state {
                LockState::Held => store.standing(&record).await?.stale_because(),
                LockState::Free => None,
            };
            rows.push((record, stale));
        }
        Ok::<_, Error>(rows)
    })?;
    let text = match args.format {
        LocksFormat::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|(r, stale)| {
                    serde_json::json!({
                        "stack": r.stack,
                        "held": r.state == LockState::Held && stale.is_none(),
                        "holder": format!("{}#{}", r.repository, r.pr),
                        "head_sha": r.head_sha,
                        "since": r.time,
                        "waiters": r.waiters,
                        "stale": stale,
                        "reason": r.reason,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list).expect("json")
        }
        LocksFormat::Text if rows.is_empty() => "no stack locks".to_string(),
        LocksFormat::Text => rows
            .iter()
            .map(|(r, stale)| line(r, *stale))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    super::print_stdout(&text)?;
    Ok(ExitStatus::Success)
}

fn line(r: &LockRecord, stale: Option<&str>) -> String {
    let holder = format!("{}#{}", r.repository, r.pr);
    let waiting = if r.waiters.is_empty() {
        String::new()
    } else {
        let w: Vec<String> = r.waiters.iter().map(|n| format!("#{n}")).collect();
        format!(", waiting: {}", w.join(", "))
    };
    match (r.state, stale) {
        (LockState::Free, _) => format!("{}  free (last held by {holder})", r.stack),
        (LockState::Held, Some(why)) => {
            format!("{}  free: {holder} holds nothing ({why})", r.stack)
        }
        (LockState::Held, None) => {
            format!("{}  locked by {holder} since {}{waiting}", r.stack, r.time)
        }
    }
}

/// Frees a stack's lock, whoever holds it: only a special approver (users
/// or teams of `approvers`), with a reason; audited, and every PR that
/// waited on it is re-validated.
pub fn unlock(config: Option<&Path>, args: UnlockArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::open(ctx, &cfg.github, &args.github)?;
    let input = |name: &str| match &session.event {
        Event::WorkflowDispatch(e) => e
            .inputs
            .as_ref()
            .and_then(|i| i.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        _ => None,
    };
    let required = |flag: &Option<String>, name: &str, missing: &str| {
        flag.clone()
            .or_else(|| input(name))
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::input(format!("tfctl unlock: {missing}")))
    };
    let stack = required(
        &args.stack,
        "stack",
        "which stack? (STACK, or the run's `stack` input)",
    )?;
    let reason = required(
        &args.reason,
        "reason",
        "--reason is required (or the run's `reason` input): the lock and the audit log record it",
    )?;
    let actor = session
        .event
        .sender()
        .map(|u| u.login.clone())
        .ok_or_else(|| {
            Error::input("tfctl unlock: the event names no sender to check as a special approver")
        })?;
    let store = super::locking::LockStore::of(&session, &cfg);
    GhSession::runtime()?.block_on(async {
        if !super::approvers::is_special_approver(&session.client, &cfg, &actor).await? {
            return Err(Error::input(format!(
                "tfctl unlock: {actor} is not a special approver (approvers in tfctl.yaml): the lock of {stack} stays"
            )));
        }
        let freed = store
            .unlock(&stack, &actor, &audit::now_rfc3339(), &reason)
            .await?;
        let Some(held) = freed else {
            println!("tfctl unlock: {stack} is not locked: nothing to do");
            return Ok(ExitStatus::Success);
        };
        session.leave(RunRecord::audited(AuditEvent {
            reasons: vec![reason.clone()],
            ..AuditEvent::new(
                "unlock",
                &actor,
                format!("{}#{}", held.repository, held.pr),
                &held.head_sha,
                &format!("{stack} unlocked"),
                session.env.run_url(),
            )
        }))?;
        println!(
            "tfctl unlock: {stack} was locked by {}#{}: freed by {actor} ({reason})",
            held.repository, held.pr
        );
        revalidate(&session, &held.repository, &held.waiters, &stack).await?;
        Ok(ExitStatus::Success)
    })
}

/// Sends `tfctl-validate` for every open PR of `repository` in `waiters`
/// (they waited on the lock of `what`, now free).
pub(crate) async fn revalidate(
    session: &GhSession,
    repository: &str,
    waiters: &[u64],
    what: &str,
) -> Result<()> {
    let repo = RepoRef::parse(repository)
        .map_err(|e| Error::input(format!("lock of {what}: {}", e.message)))?;
    for &n in waiters {
        let pr = session.client.get_pull(&repo, n).await?;
        if pr.state != "open" {
            continue;
        }
        let payload = DispatchPayload {
            source_repo: repo.to_string(),
            pr_number: n,
            head_sha: pr.head.sha.clone(),
            base_ref: pr.base.git_ref.clone(),
            merge_sha: None,
        };
        let map = payload.to_map();
        session
            .home()
            .dispatch(&session.repo, EVENT_TYPE_VALIDATE, &map)
            .await?;
        println!("tfctl: #{n} waited on the lock of {what}: sent {EVENT_TYPE_VALIDATE} for it");
    }
    Ok(())
}
