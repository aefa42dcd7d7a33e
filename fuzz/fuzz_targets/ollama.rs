//! Fuzz the body of `POST /api/embed`.
#![no_main]

mod harness;

libfuzzer_sys::fuzz_target!(|body: &[u8]| harness::post("/api/embed", body));
