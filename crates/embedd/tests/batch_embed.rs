//! `embedd embed --input/--output` as a user runs it: a 100,000-text corpus to Parquet, killed
//! and resumed to the identical file; MiniLM's vectors in all three output formats, read back by
//! pyarrow and numpy; batches spread over two real servers, and routed around a dead one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{embedd, free_port, python_with, sample, scratch_dir, write_corpus, Server};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/batch_outputs.py");

fn embed(args: &[&str]) -> Output {
    embedd()
        .arg("embed")
        .args(args)
        .output()
        .expect("run embedd embed")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) -> String {
    let text = stderr(output);
    assert!(output.status.success(), "embedd embed failed: {text}");
    text
}

/// Start `embedd embed args`, wait until its spool holds at least `bytes` of vectors, and send
/// it `signal`: `KILL` leaves no chance to tidy up, as a crash or a lost machine would; `INT` is
/// a user's Ctrl-C, after which it must say how to go on.
fn kill_midway(args: &[&str], output: &Path, bytes: u64, signal: &str) {
    let mut child = embedd()
        .arg("embed")
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn embedd embed");
    let vectors = PathBuf::from(format!("{}.partial/vectors.f32", output.display()));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let written = std::fs::metadata(&vectors).map(|m| m.len()).unwrap_or(0);
        if written >= bytes {
            break;
        }
        assert!(Instant::now() < deadline, "the job never got that far");
        assert!(child.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let ended = child.wait_with_output().unwrap();
    assert!(
        !ended.status.success(),
        "the job finished before the signal"
    );
    assert!(!output.exists(), "the job finished before the signal");
    if signal == "INT" {
        let log = stderr(&ended);
        assert!(log.contains("run the same command again"), "{log}");
    }
}

fn strs(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

fn python(args: &[&str]) -> String {
    let output = Command::new(python_with(&["pyarrow==26.0.1", "numpy"]))
        .arg(SCRIPT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_100k_corpus_killed_midway_resumes_to_the_identical_parquet_file() {
    let dir = scratch_dir("batch-100k");
    let texts = dir.join("texts.txt");
    write_corpus(&texts, 100_000);
    let (input, reference, output) = (
        texts.to_str().unwrap(),
        dir.join("reference.parquet"),
        dir.join("out.parquet"),
    );
    let job = |out: &Path| -> Vec<String> {
        ["--model", "local-hash", "--input", input, "--output"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.to_str().unwrap().to_owned()])
            .collect()
    };

    // The uninterrupted run, on a terminal (script(1) gives it one): a progress bar.
    let reference_job = job(&reference).join(" ");
    let on_terminal = Command::new("script")
        .args([
            "-qec",
            &format!("{} embed {reference_job}", env!("CARGO_BIN_EXE_embedd")),
        ])
        .arg("/dev/null")
        .output()
        .expect("run script(1)");
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{screen}");
    assert!(
        screen.contains("/100,000 texts") && screen.contains("eta"),
        "{screen}"
    );
    assert!(reference.exists());

    let args = job(&output);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_midway(&args, &output, 10_000 * 384 * 4, "KILL");

    // The input changed in the meantime: the job refuses to mix two inputs in one output.
    let original = std::fs::read_to_string(&texts).unwrap();
    std::fs::write(&texts, original.replacen("text 0:", "text 0 changed:", 1)).unwrap();
    let refused = embed(&args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the input has changed"),
        "{}",
        stderr(&refused)
    );
    std::fs::write(&texts, &original).unwrap();

    // Not on a terminal: plain progress lines, and a note of what was resumed.
    let log = succeeded(&embed(&args));
    assert!(log.contains("resuming: "), "{log}");
    assert!(log.contains("100000/100000 texts (100.0%)"), "{log}");
    assert!(
        std::fs::read(&output).unwrap() == std::fs::read(&reference).unwrap(),
        "the resumed file differs from the uninterrupted one"
    );
    assert!(!PathBuf::from(format!("{}.partial", output.display())).exists());

    // Done is done: the output is not overwritten unless asked.
    let again = embed(&args);
    assert!(!again.status.success() && stderr(&again).contains("--overwrite"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn minilm_vectors_in_every_format_resume_identically_and_read_in_pyarrow_and_numpy() {
    let dir = scratch_dir("batch-minilm");
    let texts = dir.join("texts.txt");
    write_corpus(&texts, 1_500);
    // The same texts as JSON lines, in a field of another name.
    let lines: String = std::fs::read_to_string(&texts)
        .unwrap()
        .lines()
        .map(|t| format!("{}\n", serde_json::json!({"sentence": t, "n": 1})))
        .collect();
    let jsonl = dir.join("texts.jsonl");
    std::fs::write(&jsonl, lines).unwrap();

    let run = |output: &Path| -> Vec<String> {
        let (input, output) = (jsonl.to_str().unwrap(), output.to_str().unwrap());
        [
            "--input",
            input,
            "--field",
            "sentence",
            "--batch-size",
            "32",
            "--output",
            output,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let (parquet, npy, json) = (
        dir.join("v.parquet"),
        dir.join("v.npy"),
        dir.join("v.jsonl"),
    );
    succeeded(&embed(&strs(&run(&parquet))));
    succeeded(&embed(&strs(&run(&json))));

    // The .npy job is stopped with Ctrl-C after a tenth of the texts and resumed; it must equal
    // a clean run.
    let args = run(&npy);
    kill_midway(&strs(&args), &npy, 150 * 384 * 4, "INT");
    assert!(succeeded(&embed(&strs(&args))).contains("resuming"));
    let resumed = (
        std::fs::read(&npy).unwrap(),
        std::fs::read(npy.with_extension("ids.jsonl")).unwrap(),
    );
    let clean = dir.join("clean.npy");
    succeeded(&embed(&strs(&run(&clean))));
    assert!(
        resumed.0 == std::fs::read(&clean).unwrap(),
        "the resumed .npy differs"
    );
    assert!(resumed.1 == std::fs::read(clean.with_extension("ids.jsonl")).unwrap());

    let report = python(&[
        "check",
        texts.to_str().unwrap(),
        parquet.to_str().unwrap(),
        npy.to_str().unwrap(),
        json.to_str().unwrap(),
    ]);
    assert!(
        report.contains("\"rows\": 1500") && report.contains("all-minilm-l6-v2"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_servers_share_the_batches_and_a_dead_one_is_routed_around() {
    let dir = scratch_dir("batch-servers");
    let texts = dir.join("texts.txt");
    write_corpus(&texts, 20_000);
    let input = dir.join("in.parquet");
    python(&[
        "make-parquet",
        texts.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let (a, b) = (
        Server::start(&["--model", "local-hash"]),
        Server::start(&["--model", "local-hash"]),
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let job = |output: &Path, servers: &[&str]| -> Output {
        let mut args = vec![
            "--model",
            "local-hash",
            "--input",
            input.to_str().unwrap(),
            "--column",
            "body",
            "--id-column",
            "key",
            "--batch-size",
            "50",
            "--output",
            output.to_str().unwrap(),
        ];
        for server in servers {
            args.extend(["--server", server]);
        }
        embed(&args)
    };

    let local = dir.join("local.jsonl");
    let log = succeeded(&job(&local, &[]));
    assert!(log.contains("(2 empty texts skipped)"), "{log}");

    let spread = dir.join("spread.jsonl");
    succeeded(&job(&spread, &[&a.base, &b.base]));
    let route = ["route=\"/v1/embeddings\"", "status=\"200\""];
    let (on_a, on_b) = (
        sample(&a, "embedd_requests_total", &route),
        sample(&b, "embedd_requests_total", &route),
    );
    assert!(on_a > 0.0 && on_b > 0.0, "a: {on_a}, b: {on_b}");
    assert_eq!(on_a + on_b, 400.0, "each batch once");
    let expected = std::fs::read(&local).unwrap();
    assert!(std::fs::read(&spread).unwrap() == expected);
    let first: serde_json::Value = serde_json::from_str(
        std::str::from_utf8(&expected)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["id"], "k0");

    // Every batch the dead server is given goes to the live one.
    let around = dir.join("around.jsonl");
    let log = succeeded(&job(&around, &[&dead, &a.base]));
    assert!(log.contains("goes back on the queue"), "{log}");
    assert!(std::fs::read(&around).unwrap() == expected);

    // With no live server the job stops, keeps its (empty) spool and says how to go on.
    let stopped = dir.join("stopped.jsonl");
    let failed = job(&stopped, &[&dead]);
    assert!(!failed.status.success());
    let log = stderr(&failed);
    assert!(
        log.contains("run the same command again") && log.contains(&dead),
        "{log}"
    );
    succeeded(&job(&stopped, &[&b.base]));
    assert!(std::fs::read(&stopped).unwrap() == expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_inputs_and_arguments_are_refused_before_any_work() {
    let dir = scratch_dir("batch-refused");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"fine\"}\n{\"txt\": \"wrong field\"}\n").unwrap();
    let out = dir.join("out.parquet");
    let (input, output) = (bad.to_str().unwrap(), out.to_str().unwrap());
    let cases: [(&[&str], &str); 5] = [
        (&["--input", input, "--output", output], "line 2"),
        (
            &["--input", input, "--output", "x.csv"],
            "must end in .jsonl, .npy or .parquet",
        ),
        (
            &["--input", "missing.txt", "--output", output],
            "missing.txt",
        ),
        (
            &["--input", input, "--output", output, "--batch-size", "0"],
            "at least 1",
        ),
        (&["--input", input], "--output"),
    ];
    for (args, expected) in cases {
        let refused = embed(&[&["--model", "local-hash"], args].concat());
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            stderr(&refused).contains(expected),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    assert!(!out.exists() && !PathBuf::from(format!("{output}.partial")).exists());
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    let refused = embed(&[
        "--model",
        "local-hash",
        "--input",
        empty.to_str().unwrap(),
        "--output",
        output,
    ]);
    assert!(
        stderr(&refused).contains("holds no text"),
        "{}",
        stderr(&refused)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
