//! Test-only support shared by the integration tests (`mod support;`):
//! the fake GitHub server. Each test binary uses a part of it, hence the
//! `dead_code` allowance.

pub mod fake_github;
