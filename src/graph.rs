//! The dependency DAG of the stacks in a run (docs/DESIGN.md §3), built with petgraph.
//!
//! Pure. Edges come from `depends_on`, from string values naming another
//! stack id (implicit), and from service order rules. Order rules go through
//! one zero-work *barrier* node between consecutive groups, so a rule costs
//! |A|+|B| edges instead of |A|×|B|. When either end of a dependency is a
//! destroy, the edge is reversed: a stack is destroyed only after what
//! depends on it. A cycle is an input error that prints it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::Error;
pub use crate::report::OrderEdge;
use crate::stack::{Stack, StackAction};

/// A node of the execution graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Index into [`Dag::stacks`].
    Stack(usize),
    /// Zero-work node of an order rule; the label says which rule.
    Barrier(String),
}

/// The run's graph: stacks (sorted by id) plus barrier nodes.
#[derive(Debug, Clone)]
pub struct Dag {
    pub stacks: Vec<Stack>,
    /// Node `i < stacks.len()` is `Node::Stack(i)`; barriers follow.
    pub nodes: Vec<Node>,
    /// `preds[n]`: nodes that must finish before node `n` starts (sorted).
    pub preds: Vec<Vec<usize>>,
    /// Topological layers of stack indices, for people.
    pub waves: Vec<Vec<usize>>,
}

impl Dag {
    /// Node → stack index, `None` for barriers (the runner's view).
    pub fn node_stacks(&self) -> Vec<Option<usize>> {
        self.nodes
            .iter()
            .map(|n| match n {
                Node::Stack(i) => Some(*i),
                Node::Barrier(_) => None,
            })
            .collect()
    }

    /// Waves as stack ids.
    pub fn wave_ids(&self) -> Vec<Vec<String>> {
        self.waves
            .iter()
            .map(|w| w.iter().map(|&i| self.stacks[i].id.clone()).collect())
            .collect()
    }

    /// Direct stack-to-stack edges `(before, after)`: `depends_on` and
    /// implicit references, never the pairs an order rule stands for (those
    /// are [`Dag::order_edges`], so a drawing stays linear in stacks).
    /// Sorted, deduplicated.
    pub fn direct_edges(&self) -> Vec<(String, String)> {
        let mut edges = Vec::new();
        for (n, ps) in self.preds.iter().enumerate() {
            let Node::Stack(to) = self.nodes[n] else {
                continue;
            };
            for &p in ps {
                if let Node::Stack(from) = self.nodes[p] {
                    edges.push((self.stacks[from].id.clone(), self.stacks[to].id.clone()));
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        edges
    }

    /// Each order rule's barrier once: the stacks it holds back and the
    /// stacks it releases. |before| + |after| ids per rule, never their product.
    pub fn order_edges(&self) -> Vec<OrderEdge> {
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (n, ps) in self.preds.iter().enumerate() {
            for &p in ps {
                succs[p].push(n);
            }
        }
        let ids = |nodes: &[usize]| -> Vec<String> {
            let mut v: Vec<String> = nodes
                .iter()
                .filter_map(|&n| match self.nodes[n] {
                    Node::Stack(i) => Some(self.stacks[i].id.clone()),
                    Node::Barrier(_) => None,
                })
                .collect();
            v.sort_unstable();
            v
        };
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(n, node)| match node {
                Node::Barrier(rule) => Some(OrderEdge {
                    rule: rule.clone(),
                    before: ids(&self.preds[n]),
                    after: ids(&succs[n]),
                }),
                Node::Stack(_) => None,
            })
            .collect()
    }
}

/// Builds the DAG of `stacks` with the config's service `order` groups.
pub fn build(mut stacks: Vec<Stack>, order: &[Vec<String>]) -> Result<Dag, Error> {
    stacks.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(dup) = stacks.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(Error::input(format!("{}: stack listed twice", dup[0].id)));
    }
    let index: HashMap<&str, usize> = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();

    let mut nodes: Vec<Node> = (0..stacks.len()).map(Node::Stack).collect();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();

    // Explicit and implicit dependencies: `dep` must be done before `stack`.
    for (i, stack) in stacks.iter().enumerate() {
        let referenced = stack.depends_on.iter().chain(&stack.string_values);
        for dep in referenced {
            let Some(&j) = index.get(dep.trim_end_matches('/')) else {
                continue;
            };
            if j == i {
                continue;
            }
            let both_plan =
                stack.action == StackAction::Plan && stacks[j].action == StackAction::Plan;
            edges.insert(if both_plan { (j, i) } else { (i, j) });
        }
    }

    // Order rules, separately for plans (forward) and destroys (reverse).
    for action in [StackAction::Plan, StackAction::Destroy] {
        let groups: Vec<(usize, Vec<usize>)> = order
            .iter()
            .enumerate()
            .map(|(g, services)| {
                let members = (0..stacks.len())
                    .filter(|&i| {
                        stacks[i].action == action && services.contains(&stacks[i].service)
                    })
                    .collect::<Vec<_>>();
                (g, members)
            })
            .filter(|(_, members)| !members.is_empty())
            .collect();
        for pair in groups.windows(2) {
            let ((ga, a), (gb, b)) = (&pair[0], &pair[1]);
            let (first, then) = match action {
                StackAction::Plan => (a, b),
                StackAction::Destroy => (b, a),
            };
            let label = format!(
                "order: {} before {}{}",
                order[*ga].join(","),
                order[*gb].join(","),
                if action == StackAction::Destroy {
                    " (reversed for destroys)"
                } else {
                    ""
                }
            );
            let barrier = nodes.len();
            nodes.push(Node::Barrier(label));
            edges.extend(first.iter().map(|&s| (s, barrier)));
            edges.extend(then.iter().map(|&s| (barrier, s)));
        }
    }

    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(nodes.len(), edges.len());
    let idx: Vec<NodeIndex> = (0..nodes.len()).map(|_| graph.add_node(())).collect();
    for &(a, b) in &edges {
        graph.add_edge(idx[a], idx[b], ());
    }
    let topo = toposort(&graph, None).map_err(|_| cycle_error(&graph, &nodes, &stacks))?;

    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for &(a, b) in &edges {
        preds[b].push(a);
    }

    // Layer of a stack = number of stacks on the longest chain before it.
    let mut level = vec![0usize; nodes.len()];
    for n in topo.iter().map(|n| n.index()) {
        level[n] = preds[n]
            .iter()
            .map(|&p| level[p] + usize::from(matches!(nodes[p], Node::Stack(_))))
            .max()
            .unwrap_or(0);
    }
    let mut layers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &l) in level.iter().enumerate().take(stacks.len()) {
        layers.entry(l).or_default().push(i);
    }
    let waves = layers.into_values().collect();

    Ok(Dag {
        stacks,
        nodes,
        preds,
        waves,
    })
}

/// Finds one cycle and prints it as `A -> B -> A`.
fn cycle_error(graph: &DiGraph<(), ()>, nodes: &[Node], stacks: &[Stack]) -> Error {
    let name = |n: usize| match &nodes[n] {
        Node::Stack(i) => stacks[*i].id.clone(),
        Node::Barrier(label) => format!("[{label}]"),
    };
    // The smallest strongly connected component with a cycle, for a short message.
    let scc = tarjan_scc(graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .min_by_key(|c| (c.len(), c.iter().map(|n| n.index()).min()))
        .unwrap_or_default();
    let members: BTreeSet<usize> = scc.iter().map(|n| n.index()).collect();
    let Some(&start) = members
        .iter()
        .find(|&&n| matches!(nodes[n], Node::Stack(_)))
        .or(members.first())
    else {
        return Error::input("dependency cycle");
    };
    // Breadth-first search inside the component for the shortest way back to `start`.
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut back = None;
    'search: while let Some(n) = queue.pop_front() {
        let mut next: Vec<usize> = graph
            .neighbors(NodeIndex::new(n))
            .map(petgraph::prelude::NodeIndex::index)
            .collect();
        next.sort_unstable();
        for m in next.into_iter().filter(|m| members.contains(m)) {
            if m == start {
                back = Some(n);
                break 'search;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![start];
    let mut cur = back.unwrap_or(start);
    while cur != start {
        path.push(cur);
        cur = parent[&cur];
    }
    path[1..].reverse();
    path.push(start);
    let names: Vec<String> = path.into_iter().map(name).collect();
    Error::input(format!("dependency cycle: {}", names.join(" -> ")))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn stack(id: &str, deps: &[&str]) -> Stack {
        let (service, name) = Stack::split_id(id).unwrap();
        Stack {
            id: id.into(),
            service: service.into(),
            name: name.into(),
            tfvars: PathBuf::from(format!("{id}/{name}.tfvars")),
            environment: "development".into(),
            action: StackAction::Plan,
            depends_on: deps.iter().map(std::string::ToString::to_string).collect(),
            string_values: vec![],
            reasons: vec![],
        }
    }

    fn destroy(mut s: Stack) -> Stack {
        s.action = StackAction::Destroy;
        s
    }

    #[test]
    fn waves_follow_dependencies() {
        let dag = build(
            vec![
                stack("S3/a", &["IAM/r"]),
                stack("IAM/r", &[]),
                stack("Lambda/f", &["S3/a"]),
                stack("KMS/k", &[]),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            dag.wave_ids(),
            vec![vec!["IAM/r", "KMS/k"], vec!["S3/a"], vec!["Lambda/f"]]
        );
        assert_eq!(
            dag.direct_edges(),
            vec![
                ("IAM/r".into(), "S3/a".into()),
                ("S3/a".into(), "Lambda/f".into())
            ]
        );
    }

    #[test]
    fn implicit_reference_by_string_value_is_an_edge() {
        let mut s3 = stack("S3/a", &[]);
        s3.string_values = vec!["KMS/k".into(), "not-a-stack".into()];
        let dag = build(vec![s3, stack("KMS/k", &[])], &[]).unwrap();
        assert_eq!(dag.wave_ids(), vec![vec!["KMS/k"], vec!["S3/a"]]);
    }

    #[test]
    fn order_rules_use_one_barrier_per_boundary() {
        let order = vec![
            vec!["IAM".to_string(), "KMS".into()],
            vec!["S3".into()],
            vec!["Lambda".into()],
        ];
        let stacks = vec![
            stack("IAM/r", &[]),
            stack("KMS/k", &[]),
            stack("S3/a", &[]),
            stack("S3/b", &[]),
            stack("Lambda/f", &[]),
        ];
        let dag = build(stacks, &order).unwrap();
        assert_eq!(dag.nodes.len(), 5 + 2);
        assert_eq!(
            dag.wave_ids(),
            vec![
                vec!["IAM/r", "KMS/k"],
                vec!["S3/a", "S3/b"],
                vec!["Lambda/f"]
            ]
        );
        // Drawn as the user wrote the rules: once each, not as 2×2 + 2×1 pairs.
        assert!(dag.direct_edges().is_empty());
        let order = dag.order_edges();
        assert_eq!(order.len(), 2);
        assert_eq!(order[0].rule, "order: IAM,KMS before S3");
        assert_eq!(order[0].before, vec!["IAM/r", "KMS/k"]);
        assert_eq!(order[0].after, vec!["S3/a", "S3/b"]);
        assert_eq!(order[1].before, vec!["S3/a", "S3/b"]);
        assert_eq!(order[1].after, vec!["Lambda/f"]);
    }

    #[test]
    fn empty_order_groups_are_skipped() {
        let order = vec![
            vec!["IAM".to_string()],
            vec!["S3".into()],
            vec!["Lambda".into()],
        ];
        let dag = build(vec![stack("IAM/r", &[]), stack("Lambda/f", &[])], &order).unwrap();
        assert_eq!(dag.wave_ids(), vec![vec!["IAM/r"], vec!["Lambda/f"]]);
    }

    #[test]
    fn destroy_runs_after_its_dependents() {
        // S3/a depends on IAM/r; IAM/r is deleted: S3/a must go first.
        let dag = build(
            vec![stack("S3/a", &["IAM/r"]), destroy(stack("IAM/r", &[]))],
            &[],
        )
        .unwrap();
        assert_eq!(dag.wave_ids(), vec![vec!["S3/a"], vec!["IAM/r"]]);
        // Both destroyed, with order rules: reversed too.
        let order = vec![vec!["IAM".to_string()], vec!["S3".into()]];
        let dag = build(
            vec![destroy(stack("S3/a", &[])), destroy(stack("IAM/r", &[]))],
            &order,
        )
        .unwrap();
        assert_eq!(dag.wave_ids(), vec![vec!["S3/a"], vec!["IAM/r"]]);
    }

    #[test]
    fn cycle_is_printed() {
        let err = build(
            vec![stack("S3/a", &["IAM/b"]), stack("IAM/b", &["S3/a"])],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.message, "dependency cycle: IAM/b -> S3/a -> IAM/b");
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
    }

    #[test]
    fn cycle_through_an_order_rule_names_the_rule() {
        let order = vec![vec!["IAM".to_string()], vec!["S3".into()]];
        let err = build(vec![stack("S3/a", &[]), stack("IAM/b", &["S3/a"])], &order).unwrap_err();
        assert_eq!(
            err.message,
            "dependency cycle: IAM/b -> [order: IAM before S3] -> S3/a -> IAM/b"
        );
    }

    #[test]
    fn unknown_and_self_references_add_no_edges() {
        let dag = build(vec![stack("S3/a", &["S3/a", "IAM/unchanged"])], &[]).unwrap();
        assert!(dag.preds[0].is_empty());
    }
}
