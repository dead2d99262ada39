//! Promotion on GitHub: the effect half of [`crate::promotion`]. Reads the
//! signed "applied in <environment>" records of the controller repository
//! for validate and apply, and writes one for every stack an apply
//! changed.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::error::Result;
use crate::promotion::{self, PromotionRecord};
use crate::render::marker;
use crate::repo::FsModules;
use crate::report::{RunReport, StackStatus};
use crate::stack::Stack;

use super::gh::GhSession;

/// The root module of `service`'s stacks and the digest of its tree.
pub(crate) fn module_digest(cfg: &Config, service: &str) -> Result<(String, String)> {
    let module = cfg.modules.module_for(service);
    let modules = FsModules {
        root: cfg.modules_root.clone(),
    };
    let digest = crate::module_tree::read_tree(&modules, &module)?
        .map(|t| t.digest)
        .unwrap_or_default();
    Ok((module, digest))
}

/// [`gap`] asked once per service and environment (every stack of one
/// service shares its root module tree, so the tree is read and GitHub
/// asked once for all of them).
pub(crate) struct Gaps<'a> {
    cfg: &'a Config,
    session: &'a GhSession,
    known: BTreeMap<(String, String), Option<String>>,
}

impl<'a> Gaps<'a> {
    pub(crate) fn new(cfg: &'a Config, session: &'a GhSession) -> Gaps<'a> {
        Gaps {
            cfg,
            session,
            known: BTreeMap::new(),
        }
    }

    /// Why a stack of `service` may not change in `environment` yet.
    pub(crate) async fn of(&mut self, service: &str, environment: &str) -> Result<Option<String>> {
        let key = (service.to_string(), environment.to_string());
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        let found = gap(self.cfg, self.session, service, environment).await?;
        self.known.insert(key, found.clone());
        Ok(found)
    }
}

/// Why a stack of `service` may not change in `environment` yet, or None:
/// the environment promotes from another one, and no record signed by a
/// trusted key says the module tree was applied there.
async fn gap(
    cfg: &Config,
    session: &GhSession,
    service: &str,
    environment: &str,
) -> Result<Option<String>> {
    let Some(source) = cfg
        .environments
        .get(environment)
        .and_then(|e| e.promote_from.clone())
    else {
        return Ok(None);
    };
    let (module, digest) = module_digest(cfg, service)?;
    let name = promotion::ref_name(&source, &digest);
    let home = session.home();
    let applied = match home.get_ref(&session.repo, &name).await? {
        None => false,
        Some(r) => {
            let commit = home.get_commit(&session.repo, &r.sha).await?;
            PromotionRecord::verified(&commit.message, &cfg.trust.public_keys)
                .is_ok_and(|rec| rec.environment == source && rec.module_digest == digest)
        }
    };
    Ok((!applied).then(|| promotion::gap_reason(&module, &digest, &source)))
}

/// Marks every stack of `report` whose module tree was not applied where
/// its environment promotes from: failed, with its reason; the verdict
/// follows.
pub(crate) async fn check(cfg: &Config, session: &GhSession, report: &mut RunReport) -> Result<()> {
    if cfg.environments.values().all(|e| e.promote_from.is_none()) {
        return Ok(());
    }
    let mut gaps = Gaps::new(cfg, session);
    for s in &mut report.stacks {
        // A destroy removes what is there; it promotes nothing.
        if s.action != "plan" || !matches!(s.status, StackStatus::Passed | StackStatus::Failed) {
            continue;
        }
        if let Some(why) = gaps.of(&s.service, &s.environment).await? {
            s.promotion = Some(why);
            s.status = StackStatus::Failed;
        }
    }
    report.result = RunReport::judge(&report.stacks);
    Ok(())
}

/// After `stack` applied from the merge `merge_commit_sha` of
/// `pull_request`: the signed record that its module tree is in place in
/// its environment (kept when one exists already).
pub(crate) async fn record(
    cfg: &Config,
    session: &GhSession,
    stack: &Stack,
    var_files: &[(String, String)],
    pull_request: &str,
    merge_commit_sha: &str,
) -> Result<()> {
    let Some(key) = session.signing_key.as_ref() else {
        // Unsigned, a record would prove nothing: none is written.
        return Ok(());
    };
    let (module, digest) = module_digest(cfg, &stack.service)?;
    let record = PromotionRecord {
        version: 1,
        environment: stack.environment.clone(),
        module,
        module_digest: digest.clone(),
        tfvars_digest: promotion::tfvars_digest(var_files, &cfg.promotion_ignore_keys),
        stack: stack.id.clone(),
        pull_request: pull_request.to_string(),
        merge_commit_sha: merge_commit_sha.to_string(),
        time: crate::audit::now_rfc3339(),
        signature: None,
    };
    let signed = marker::signed(&record, Some(key));
    let home = session.home();
    let name = promotion::ref_name(&stack.environment, &digest);
    if home.get_ref(&session.repo, &name).await?.is_some() {
        return Ok(());
    }
    let commit = home
        .create_commit(
            &session.repo,
            &signed.message(),
            crate::locks::EMPTY_TREE,
            &[],
        )
        .await?;
    // Another apply of the same tree may have got there first: fine.
    home.create_ref(&session.repo, &name, &commit.sha).await?;
    Ok(())
}
