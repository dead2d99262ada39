//! Scale guarded by counts, never seconds: on a 20,000-stack estate laid
//! out like `examples/offline` (its `order` rules put 10,000 stacks before
//! 5,000 before 5,000), every `tfctl graph` format and the run's matrix stay
//! linear in stacks. Drawing each order rule as all its pairs would be
//! 75 million edges here; the bounds below are a few per stack.

use crate::harness::Tfctl;
use crate::support::estate;

const STACKS: usize = 20_000;

fn graph(root: &std::path::Path, format: &str) -> String {
    Tfctl::new(root)
        .args(["graph", "--all", "--format", format])
        .run()
        .expect_code(0)
        .stdout()
}

#[test]
fn a_20000_stack_graph_with_order_rules_is_linear_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    estate::generate(dir.path(), STACKS);

    let json: serde_json::Value = serde_json::from_str(&graph(dir.path(), "json")).unwrap();
    let waves: usize = json["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_array().unwrap().len())
        .sum();
    assert_eq!(waves, STACKS, "every stack is drawn once");
    let edges = json["edges"].as_array().unwrap().len();
    let order = json["order"].as_array().unwrap();
    // The example's rules, once each: IAM,KMS before S3; S3 before Lambda.
    assert_eq!(order.len(), 2, "{order:?}");
    let members: usize = order
        .iter()
        .map(|r| r["before"].as_array().unwrap().len() + r["after"].as_array().unwrap().len())
        .sum();
    // S3 is on both rules: after IAM,KMS and before Lambda.
    assert_eq!(
        members,
        STACKS + STACKS / 4,
        "each side listed once per rule"
    );
    // Half the stacks have a depends_on, half the S3/Lambda ones a reference.
    assert!(
        edges > STACKS / 2 && edges <= 2 * STACKS,
        "{edges} direct edges"
    );

    let text = graph(dir.path(), "text");
    assert!(
        text.lines().count() <= 2 * STACKS,
        "{} text lines",
        text.lines().count()
    );
    let dot = graph(dir.path(), "dot");
    assert_eq!(dot.matches(" -> ").count(), edges + members, "dot edges");
    let mermaid = graph(dir.path(), "mermaid");
    let arrows = mermaid.matches(" --> ").count() + mermaid.matches(" -.-> ").count();
    assert_eq!(arrows, edges + members, "mermaid edges");
    for (format, out) in [("text", &text), ("dot", &dot), ("mermaid", &mermaid)] {
        assert!(out.len() <= 200 * STACKS, "{format}: {} bytes", out.len());
    }

    // The job matrix names every stack once, in shards of `parallelism`.
    let matrix = Tfctl::new(dir.path())
        .args(["validate", "--all", "--emit-matrix"])
        .run()
        .expect_code(0)
        .json();
    let include = matrix["include"].as_array().unwrap();
    let named: usize = include
        .iter()
        .map(|s| s["stacks"].as_array().unwrap().len())
        .sum();
    assert_eq!(named, STACKS);
    let bytes = matrix.to_string().len();
    assert!(bytes <= 200 * STACKS, "matrix: {bytes} bytes");
}
