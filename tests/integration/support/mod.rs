//! Test-only support shared by the integration tests: the fake GitHub
//! server and the test signing keys.

pub(crate) mod estate;
pub(crate) mod evidence;
pub(crate) mod fake_github;
pub(crate) mod keys;
