//! Test-only support shared by the integration tests: the fake GitHub
//! server and the test signing keys.

pub mod estate;
pub mod evidence;
pub mod fake_github;
pub mod keys;
