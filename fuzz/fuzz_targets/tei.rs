//! Fuzz the body of `POST /embed`.
#![no_main]

mod harness;

libfuzzer_sys::fuzz_target!(|body: &[u8]| harness::post("/embed", body));
