//! Fuzz the body of `POST /v1/embeddings`.
#![no_main]

mod harness;

libfuzzer_sys::fuzz_target!(|body: &[u8]| harness::post("/v1/embeddings", body));
