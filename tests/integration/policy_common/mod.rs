//! Helpers shared by the policy integration tests (tests/policy_*.rs).

pub(crate) mod opa;
