//! `embedd embed --input/--output` keeps its memory flat: a corpus twenty times larger (400,000
//! texts, 26 MB) peaks within a few megabytes of a small one, measured as the kernel counts it
//! (GNU time's maximum resident set size) over the whole run, writing the output included.

mod common;

use std::process::Command;

use common::{scratch_dir, write_corpus};

/// The peak resident memory, in KiB, of `embedd embed` over `texts` texts with a narrow hash
/// model (the work is reading, batching and writing; the vectors are small).
fn peak_kib(dir: &std::path::Path, texts: usize) -> u64 {
    let corpus = dir.join(format!("corpus-{texts}.txt"));
    write_corpus(&corpus, texts);
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: local, dimensions: 8}\n",
    )
    .unwrap();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "peak_kib %M"])
        .arg(env!("CARGO_BIN_EXE_embedd"))
        .args(["embed", "--config", config.to_str().unwrap(), "--input"])
        .arg(&corpus)
        .arg("--output")
        .arg(dir.join(format!("out-{texts}.npy")))
        .output()
        .expect("run embedd under /usr/bin/time (Debian's `time`, which scripts/test.sh installs)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let rows = std::fs::metadata(dir.join(format!("out-{texts}.npy")))
        .unwrap()
        .len();
    assert!(rows >= (texts * 8 * 4) as u64, "every vector was written");
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak_kib ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in: {stderr}"))
}

#[test]
fn memory_stays_flat_however_large_the_input() {
    let dir = scratch_dir("batch-memory");
    let small = peak_kib(&dir, 20_000);
    let large = peak_kib(&dir, 400_000);
    // Loaded whole, the large input's texts alone would add about 35 MB (26 MB of text and a
    // String each), its vectors 20 MB more.
    assert!(
        large <= small + 8 * 1024,
        "peak {large} KiB for 400,000 texts against {small} KiB for 20,000"
    );
    eprintln!("peak resident memory: {small} KiB for 20,000 texts, {large} KiB for 400,000");
    std::fs::remove_dir_all(&dir).unwrap();
}
