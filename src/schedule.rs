//! The eager scheduling state machine (docs/DESIGN.md §3): which node may start now,
//! and what a finished node means for the nodes after it.
//!
//! Owns the per-node state of one run over a DAG of *task* nodes (stacks)
//! and *barrier* nodes (zero-work joins the graph module inserts so a
//! service-order rule needs |A|+|B| edges instead of |A|×|B|). A task starts
//! as soon as all its predecessors finished ok; a barrier completes the
//! instant its predecessors do. A failure skips every transitive dependent
//! and nothing else.
//!
//! It must stay pure: no IO, no clocks, no async. The runner drives it and
//! owns processes; this module only answers "what next".

use std::collections::BTreeSet;
use std::fmt;

/// Where one node is in its life. Every node ends in exactly one of
/// `Succeeded`, `Failed`, `Skipped` or `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Some predecessor has not finished yet.
    Waiting,
    /// All predecessors finished ok; the task may start (tasks only:
    /// barriers never wait in this state).
    Ready,
    /// Handed out by [`Schedule::pop_ready`], not finished yet.
    Running,
    Succeeded,
    Failed,
    /// A transitive predecessor failed. `cause` is the failed *task* node
    /// (never a barrier), found by following skips back to their origin.
    Skipped {
        cause: usize,
    },
    /// Not started when the run was cancelled.
    Cancelled,
}

impl NodeState {
    /// Whether the node has reached its final state.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            NodeState::Waiting | NodeState::Ready | NodeState::Running
        )
    }
}

/// Why a node graph cannot be scheduled. These are programming errors of
/// the caller (the graph module rejects cycles before anything runs), so the
/// messages name node indices, not stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// `preds` and `is_task` have different lengths.
    LengthMismatch { preds: usize, is_task: usize },
    /// `preds[node]` names a node that does not exist.
    UnknownPred { node: usize, pred: usize },
    /// These nodes sit on or behind a cycle and could never start.
    Cycle { nodes: Vec<usize> },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::LengthMismatch { preds, is_task } => write!(
                f,
                "schedule: {preds} predecessor lists but {is_task} node kinds"
            ),
            ScheduleError::UnknownPred { node, pred } => {
                write!(f, "schedule: node {node} depends on unknown node {pred}")
            }
            ScheduleError::Cycle { nodes } => {
                write!(f, "schedule: nodes {nodes:?} are on or behind a cycle")
            }
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The state of one run over a node graph.
#[derive(Debug, Clone)]
pub struct Schedule {
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    is_task: Vec<bool>,
    /// Predecessors of each node that have not reached a final state.
    unfinished_preds: Vec<usize>,
    state: Vec<NodeState>,
    /// Ready task nodes; a `BTreeSet` so the lowest index starts first.
    ready: BTreeSet<usize>,
    running: usize,
}

impl Schedule {
    /// Builds the schedule for `preds` (`preds[n]`: nodes that must finish
    /// ok before `n` starts) and `is_task` (`false`: a barrier). Duplicate
    /// predecessors are allowed. Nodes with no predecessors are ready (or,
    /// for barriers, done) at once.
    pub fn new(preds: &[Vec<usize>], is_task: &[bool]) -> Result<Schedule, ScheduleError> {
        let n = preds.len();
        if is_task.len() != n {
            return Err(ScheduleError::LengthMismatch {
                preds: n,
                is_task: is_task.len(),
            });
        }
        let mut dedup_preds = Vec::with_capacity(n);
        let mut succs = vec![Vec::new(); n];
        for (node, ps) in preds.iter().enumerate() {
            let set: BTreeSet<usize> = ps.iter().copied().collect();
            for &p in &set {
                if p >= n {
                    return Err(ScheduleError::UnknownPred { node, pred: p });
                }
                succs[p].push(node);
            }
            dedup_preds.push(set.into_iter().collect::<Vec<_>>());
        }
        check_acyclic(&dedup_preds, &succs)?;
        let unfinished_preds = dedup_preds.iter().map(Vec::len).collect();
        let mut schedule = Schedule {
            preds: dedup_preds,
            succs,
            is_task: is_task.to_vec(),
            unfinished_preds,
            state: vec![NodeState::Waiting; n],
            ready: BTreeSet::new(),
            running: 0,
        };
        for node in 0..n {
            if schedule.unfinished_preds[node] == 0 {
                schedule.resolve(node);
            }
        }
        Ok(schedule)
    }

    /// The next task that may start, lowest index first; it becomes
    /// `Running`. `None` when nothing is ready right now.
    pub fn pop_ready(&mut self) -> Option<usize> {
        let node = self.ready.pop_first()?;
        self.state[node] = NodeState::Running;
        self.running += 1;
        Some(node)
    }

    /// Records that a running task finished; `ok = false` skips all its
    /// transitive dependents. Dependents that become ready are queued.
    ///
    /// # Panics
    /// When `node` is not running: that is a bug in the caller.
    pub fn finish(&mut self, node: usize, ok: bool) {
        assert_eq!(
            self.state[node],
            NodeState::Running,
            "schedule: finish({node}) on a node that is not running"
        );
        self.running -= 1;
        self.state[node] = if ok {
            NodeState::Succeeded
        } else {
            NodeState::Failed
        };
        for succ in self.release_succs(node) {
            self.resolve(succ);
        }
    }

    /// Marks every task and barrier that has not started as `Cancelled`.
    /// Running tasks stay running until [`Schedule::finish`]; their
    /// dependents are already cancelled then and stay so.
    pub fn cancel_pending(&mut self) {
        self.ready.clear();
        for state in &mut self.state {
            if matches!(state, NodeState::Waiting | NodeState::Ready) {
                *state = NodeState::Cancelled;
            }
        }
    }

    /// Whether every node has reached its final state.
    pub fn is_done(&self) -> bool {
        self.running == 0 && self.ready.is_empty() && self.state.iter().all(|s| s.is_final())
    }

    /// Number of tasks handed out and not finished.
    pub fn running(&self) -> usize {
        self.running
    }

    /// The state of one node.
    pub fn state(&self, node: usize) -> NodeState {
        self.state[node]
    }

    /// For a skipped node: the failed task that caused the skip.
    #[cfg(test)]
    fn skipped_by(&self, node: usize) -> Option<usize> {
        match self.state[node] {
            NodeState::Skipped { cause } => Some(cause),
            _ => None,
        }
    }

    /// The failed task behind the first (lowest-index) predecessor that did
    /// not finish ok, if any. A cancelled predecessor only exists after
    /// `cancel_pending`, when this node is cancelled too and never resolves.
    fn failure_cause(&self, node: usize) -> Option<usize> {
        self.preds[node].iter().find_map(|&p| match self.state[p] {
            NodeState::Failed => Some(p),
            NodeState::Skipped { cause } => Some(cause),
            _ => None,
        })
    }

    /// Decides a node whose predecessors have all reached a final state,
    /// then settles whatever that decides in turn. Barriers and skips
    /// cascade through a worklist, not recursion, so a long chain cannot
    /// overflow the stack.
    fn resolve(&mut self, node: usize) {
        let mut work = vec![node];
        while let Some(node) = work.pop() {
            if self.state[node] != NodeState::Waiting {
                // Cancelled while waiting (stays so), or already decided.
                continue;
            }
            if let Some(cause) = self.failure_cause(node) {
                self.state[node] = NodeState::Skipped { cause };
            } else if self.is_task[node] {
                self.state[node] = NodeState::Ready;
                self.ready.insert(node);
                continue;
            } else {
                self.state[node] = NodeState::Succeeded;
            }
            work.extend(self.release_succs(node));
        }
    }

    /// Counts `node` as finished for each successor; returns those whose
    /// last predecessor it was.
    fn release_succs(&mut self, node: usize) -> Vec<usize> {
        let mut unblocked = Vec::new();
        for &succ in &self.succs[node] {
            self.unfinished_preds[succ] -= 1;
            if self.unfinished_preds[succ] == 0 {
                unblocked.push(succ);
            }
        }
        unblocked
    }
}

/// Kahn's algorithm: every node must be reachable in topological order.
fn check_acyclic(preds: &[Vec<usize>], succs: &[Vec<usize>]) -> Result<(), ScheduleError> {
    let mut indegree: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut queue: Vec<usize> = (0..preds.len()).filter(|&n| indegree[n] == 0).collect();
    let mut seen = 0;
    while let Some(node) = queue.pop() {
        seen += 1;
        for &s in &succs[node] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                queue.push(s);
            }
        }
    }
    if seen == preds.len() {
        Ok(())
    } else {
        Err(ScheduleError::Cycle {
            nodes: (0..preds.len()).filter(|&n| indegree[n] > 0).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(n: usize) -> Vec<bool> {
        vec![true; n]
    }

    /// Runs the schedule to the end, one task at a time, failing the tasks in
    /// `fail`; returns the start order.
    fn drain(s: &mut Schedule, fail: &[usize]) -> Vec<usize> {
        let mut order = Vec::new();
        while let Some(n) = s.pop_ready() {
            order.push(n);
            s.finish(n, !fail.contains(&n));
        }
        assert!(s.is_done());
        order
    }

    #[test]
    fn starts_roots_lowest_index_first_then_dependents() {
        // 0 -> 2, 1 -> 2, 3 alone
        let preds = vec![vec![], vec![], vec![0, 1], vec![]];
        let mut s = Schedule::new(&preds, &tasks(4)).unwrap();
        assert_eq!(drain(&mut s, &[]), vec![0, 1, 2, 3]);
    }

    #[test]
    fn eager_dependent_starts_before_the_rest_of_its_wave() {
        // Wave 0 = {0, 1}; wave 1 = {2 (after 0), 3 (after 1)}.
        let preds = vec![vec![], vec![], vec![0], vec![1]];
        let mut s = Schedule::new(&preds, &tasks(4)).unwrap();
        let a = s.pop_ready().unwrap();
        let b = s.pop_ready().unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(s.pop_ready(), None);
        s.finish(0, true);
        // 1 is still running, yet 2 may start.
        assert_eq!(s.pop_ready(), Some(2));
        assert_eq!(s.state(1), NodeState::Running);
    }

    #[test]
    fn failure_skips_transitive_dependents_only() {
        // 0 -> 1 -> 2 ; 3 independent ; 4 after 3 and 0
        let preds = vec![vec![], vec![0], vec![1], vec![], vec![3, 0]];
        let mut s = Schedule::new(&preds, &tasks(5)).unwrap();
        let order = drain(&mut s, &[0]);
        assert_eq!(order, vec![0, 3]);
        assert_eq!(s.state(0), NodeState::Failed);
        assert_eq!(s.state(1), NodeState::Skipped { cause: 0 });
        assert_eq!(s.state(2), NodeState::Skipped { cause: 0 });
        assert_eq!(s.state(3), NodeState::Succeeded);
        assert_eq!(s.skipped_by(4), Some(0));
    }

    #[test]
    fn barrier_completes_instantly_and_propagates_the_original_failure() {
        // tasks 0,1 -> barrier 2 -> tasks 3,4 (service-order rule A before B)
        let preds = vec![vec![], vec![], vec![0, 1], vec![2], vec![2]];
        let is_task = vec![true, true, false, true, true];
        let mut s = Schedule::new(&preds, &is_task).unwrap();
        assert_eq!(s.pop_ready(), Some(0));
        assert_eq!(s.pop_ready(), Some(1));
        s.finish(0, true);
        assert_eq!(s.state(2), NodeState::Waiting);
        s.finish(1, false);
        assert_eq!(s.state(2), NodeState::Skipped { cause: 1 });
        assert_eq!(s.skipped_by(3), Some(1));
        assert_eq!(s.skipped_by(4), Some(1));
        assert!(s.is_done());
    }

    #[test]
    fn barrier_chain_succeeds_without_being_popped() {
        let preds = vec![vec![], vec![0], vec![1], vec![2]];
        let is_task = vec![false, false, false, true];
        let mut s = Schedule::new(&preds, &is_task).unwrap();
        assert_eq!(s.state(2), NodeState::Succeeded);
        assert_eq!(drain(&mut s, &[]), vec![3]);
    }

    #[test]
    fn skip_cause_is_the_lowest_failed_predecessor() {
        let preds = vec![vec![], vec![], vec![1, 0]];
        let mut s = Schedule::new(&preds, &tasks(3)).unwrap();
        drain(&mut s, &[0, 1]);
        assert_eq!(s.skipped_by(2), Some(0));
    }

    #[test]
    fn cancel_pending_cancels_everything_not_started() {
        let preds = vec![vec![], vec![], vec![0], vec![2]];
        let mut s = Schedule::new(&preds, &tasks(4)).unwrap();
        assert_eq!(s.pop_ready(), Some(0));
        s.cancel_pending();
        assert_eq!(s.pop_ready(), None);
        assert!(!s.is_done());
        s.finish(0, true);
        assert!(s.is_done());
        assert_eq!(s.state(0), NodeState::Succeeded);
        for n in 1..4 {
            assert_eq!(s.state(n), NodeState::Cancelled, "node {n}");
        }
    }

    #[test]
    fn empty_graph_is_done() {
        let s = Schedule::new(&[], &[]).unwrap();
        assert!(s.is_done());
    }

    #[test]
    fn duplicate_preds_count_once() {
        let preds = vec![vec![], vec![0, 0]];
        let mut s = Schedule::new(&preds, &tasks(2)).unwrap();
        assert_eq!(drain(&mut s, &[]), vec![0, 1]);
    }

    #[test]
    fn rejects_bad_graphs() {
        assert_eq!(
            Schedule::new(&[vec![]], &[]).unwrap_err(),
            ScheduleError::LengthMismatch {
                preds: 1,
                is_task: 0
            }
        );
        assert_eq!(
            Schedule::new(&[vec![3]], &[true]).unwrap_err(),
            ScheduleError::UnknownPred { node: 0, pred: 3 }
        );
        // 0 <-> 1, and 2 behind them.
        let err = Schedule::new(&[vec![1], vec![0], vec![1]], &tasks(3)).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::Cycle {
                nodes: vec![0, 1, 2]
            }
        );
        assert!(err.to_string().contains("cycle"));
    }

    #[test]
    #[should_panic(expected = "not running")]
    fn finishing_a_node_twice_is_a_bug() {
        let mut s = Schedule::new(&[vec![]], &[true]).unwrap();
        let n = s.pop_ready().unwrap();
        s.finish(n, true);
        s.finish(n, true);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// A random DAG: edges only from lower to higher index, so acyclic
        /// by construction; then a random node kind and outcome per node.
        fn dag() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<bool>, Vec<bool>)> {
            (1usize..24).prop_flat_map(|n| {
                let preds = (0..n)
                    .map(|i| proptest::collection::vec(0..i.max(1), 0..=i.min(4)))
                    .collect::<Vec<_>>();
                (
                    preds,
                    proptest::collection::vec(proptest::bool::weighted(0.8), n),
                    proptest::collection::vec(proptest::bool::weighted(0.8), n),
                )
                    .prop_map(move |(mut preds, is_task, ok)| {
                        preds[0].clear();
                        (preds, is_task, ok)
                    })
            })
        }

        /// Every transitive predecessor of each node.
        fn ancestors(preds: &[Vec<usize>]) -> Vec<BTreeSet<usize>> {
            let mut out: Vec<BTreeSet<usize>> = Vec::new();
            for ps in preds {
                let mut set = BTreeSet::new();
                for &p in ps {
                    set.insert(p);
                    set.extend(out[p].iter().copied());
                }
                out.push(set);
            }
            out
        }

        proptest! {
            #[test]
            fn invariants_hold(
                (preds, is_task, ok) in dag(),
                // Interleaving: how many to start before finishing one, and
                // when to cancel (never, if beyond the run).
                batch in 1usize..5,
                cancel_at in 0usize..64,
            ) {
                let n = preds.len();
                let mut s = Schedule::new(&preds, &is_task).unwrap();
                let mut started = vec![false; n];
                let mut running = Vec::new();
                let mut steps = 0;
                let mut cancelled = false;
                loop {
                    if !cancelled && steps == cancel_at {
                        s.cancel_pending();
                        cancelled = true;
                    }
                    steps += 1;
                    while running.len() < batch {
                        let Some(node) = s.pop_ready() else { break };
                        prop_assert!(is_task[node], "barrier {node} was handed out");
                        prop_assert!(!started[node], "node {node} started twice");
                        for &p in &preds[node] {
                            prop_assert_eq!(s.state(p), NodeState::Succeeded,
                                "node {} started before pred {} succeeded", node, p);
                        }
                        started[node] = true;
                        running.push(node);
                    }
                    if running.is_empty() {
                        break;
                    }
                    // Finish the oldest, so runs interleave with starts.
                    let node = running.remove(0);
                    s.finish(node, ok[node]);
                }
                prop_assert!(s.is_done());

                let anc = ancestors(&preds);
                for node in 0..n {
                    let state = s.state(node);
                    prop_assert!(state.is_final(), "node {node} ended {state:?}");
                    // Started nodes end done or failed; others skipped or cancelled.
                    prop_assert_eq!(
                        started[node],
                        matches!(state, NodeState::Succeeded | NodeState::Failed) && is_task[node]
                    );
                    let failed_anc = anc[node].iter().any(|&a| s.state(a) == NodeState::Failed);
                    if let NodeState::Skipped { cause } = state {
                        prop_assert!(is_task[cause] && s.state(cause) == NodeState::Failed);
                        prop_assert!(anc[node].contains(&cause));
                    }
                    if !cancelled {
                        prop_assert_eq!(
                            matches!(state, NodeState::Skipped { .. }),
                            failed_anc,
                            "node {} state {:?}", node, state
                        );
                        if is_task[node] && !failed_anc {
                            prop_assert!(started[node]);
                        }
                    } else if matches!(state, NodeState::Skipped { .. }) {
                        prop_assert!(failed_anc);
                    }
                }
            }
        }
    }
}
