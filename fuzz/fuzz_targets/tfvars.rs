//! A tfvars file as a config-repo writer may write it: parsing may fail
//! with an input error naming the file, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = tfctl::tfvars::parse(text, "S3/x/x.tfvars") {
        assert!(e.message.starts_with("S3/x/x.tfvars"), "{}", e.message);
    }
});
