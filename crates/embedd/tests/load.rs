//! `embedd load` against a real server: every kind of request is sent, all answered 200, and the
//! report holds latencies, throughput and the server's memory.

mod common;

use common::{embedd, scratch_dir, Server};

#[test]
fn the_load_generator_mixes_kinds_and_reports_them() {
    let dir = scratch_dir("load");
    let short = dir.join("short.txt");
    let long = dir.join("long.txt");
    std::fs::write(&short, "one short text\nanother short text\na third\n").unwrap();
    std::fs::write(
        &long,
        format!("{}\n", "a long passage of words ".repeat(200)),
    )
    .unwrap();
    let server = Server::start(&["--model", "local-hash"]);
    let output = embedd()
        .args([
            "load",
            "--url",
            &server.base,
            "--clients",
            "8",
            "--duration",
            "2s",
            "--json",
        ])
        .arg("--corpus")
        .arg(&short)
        .arg("--long")
        .arg(&long)
        .arg("--pid")
        .arg(server.child.id().to_string())
        .output()
        .expect("embedd load");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["not_ok"], 0, "{report}");
    assert!(report["requests"].as_u64().unwrap_or(0) > 0);
    for kind in ["single", "batch", "long"] {
        let k = &report["kinds"][kind];
        assert!(k["requests"].as_u64().unwrap_or(0) > 0, "{kind}: {report}");
        assert!(k["p99_ms"].as_f64().unwrap_or(-1.0) >= k["p50_ms"].as_f64().unwrap_or(0.0));
        assert_eq!(k["statuses"]["200"], k["requests"], "{kind}");
    }
    assert!(
        report["rss_after_mib"].as_f64().unwrap_or(0.0) > 0.0,
        "{report}"
    );
}
