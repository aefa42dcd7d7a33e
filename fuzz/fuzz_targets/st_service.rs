//! Fuzz the body of `POST /encode`.
#![no_main]

mod harness;

libfuzzer_sys::fuzz_target!(|body: &[u8]| harness::post("/encode", body));
