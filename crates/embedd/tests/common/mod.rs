//! The `embedd` binary as a real process, and a Python to drive it with real client libraries.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod fault;
pub mod rerankers;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The built `embedd` binary.
pub fn embedd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_embedd"))
}

/// `embedd serve` on 127.0.0.1 and a free port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Start `embedd serve` with extra `args` and wait until it listens. Its log goes to the
    /// test's output, or, when `EMBEDD_TEST_LOG_DIR` is set (scripts/test.sh sets it), at debug
    /// level to a file there, which scripts/check_logs.py searches for what the tests sent.
    pub fn start(args: &[&str]) -> Self {
        match swept_log() {
            Some(file) => Self::start_filtered(args, "debug", file),
            None => Self::start_logging(args, Stdio::inherit()),
        }
    }

    /// Start `embedd serve` with its log (stderr, level warn) sent to `log`.
    pub fn start_logging(args: &[&str], log: impl Into<Stdio>) -> Self {
        Self::start_filtered(args, "warn", log)
    }

    /// Start `embedd serve` with its log, filtered by `filter` (`EMBEDD_LOG`), sent to `log`.
    pub fn start_filtered(args: &[&str], filter: &str, log: impl Into<Stdio>) -> Self {
        Self::start_with(args, &[], filter, log)
    }

    /// [`Server::start_filtered`] with extra environment variables.
    pub fn start_with(
        args: &[&str],
        env: &[(&str, &str)],
        filter: &str,
        log: impl Into<Stdio>,
    ) -> Self {
        let mut child = embedd()
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .env("EMBEDD_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn embedd serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("embedd listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// The server's exit status once it exits by itself, or `None` if it is still running after
    /// `limit` (a condition checked every 50 ms, not a timer the test relies on).
    pub fn exit_within(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// Send a signal (`TERM`, `INT`) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new log file in `EMBEDD_TEST_LOG_DIR`, when it is set.
fn swept_log() -> Option<std::fs::File> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = PathBuf::from(std::env::var_os("EMBEDD_TEST_LOG_DIR")?);
    std::fs::create_dir_all(&dir).ok()?;
    let binary = std::env::current_exe().ok()?;
    let name = binary.file_stem()?.to_string_lossy().into_owned();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::fs::File::create(dir.join(format!("{name}-{}-{n}.log", std::process::id()))).ok()
}

/// A Python interpreter with `packages` installed: `EMBEDD_TEST_PYTHON` when the test script made
/// one, else a virtual environment made here once (pip needs the package index).
pub fn python_with(packages: &[&str]) -> PathBuf {
    if let Ok(python) = std::env::var("EMBEDD_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "could not make a virtual environment");
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .expect("pip install");
    assert!(installed.success(), "pip could not install {packages:?}");
    python
}

/// Run the Python script at `script` with `args`, `input` as JSON on its standard input; its
/// standard output, parsed as JSON. A failing script fails the test with its error output.
pub fn run_python<T: serde::de::DeserializeOwned>(
    python: &std::path::Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    input: &serde_json::Value,
) -> T {
    use std::io::Write;
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("send the input");
    let output = child.wait_with_output().expect("wait for the script");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script's JSON answer")
}

/// The installed directory of a catalog model, fetched first if need be (`EMBEDD_MODEL_DIR`).
pub fn installed_model(name: &str) -> PathBuf {
    embedd_fetch::Fetcher::from_env()
        .fetch(name)
        .unwrap_or_else(|e| panic!("cannot fetch {name}: {e}"))
}

/// `count` different texts of a few words, the same on every run.
pub fn write_corpus(path: &std::path::Path, count: usize) {
    const WORDS: [&str; 16] = [
        "river", "stone", "light", "market", "quiet", "engine", "paper", "garden", "signal",
        "window", "winter", "copper", "island", "letter", "orange", "bridge",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut text = String::new();
    for i in 0..count {
        text.push_str(&format!("text {i}:"));
        for _ in 0..4 + i % 9 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(' ');
            text.push_str(WORDS[(state % 16) as usize]);
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// A fresh empty directory under the target's temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
}

/// Copy a directory tree.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Run `embedd` with `args` and extra environment; (success, stdout, stderr).
pub fn run_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> (bool, String, String) {
    let mut command = embedd();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run embedd");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The seed's sentence-transformers service (deploy/sentence-transformers) under gunicorn on
/// 127.0.0.1 and a free port, serving the model in `model_dir`; stopped when dropped.
pub struct StService {
    pub child: Child,
    pub base: String,
}

impl StService {
    /// Start it with the test environment's Python (which has flask, gunicorn, sentence-transformers).
    pub fn start(python: &std::path::Path, model_dir: &std::path::Path) -> Self {
        let gunicorn = python.with_file_name("gunicorn");
        let mut child = Command::new(gunicorn)
            .args([
                "-w",
                "1",
                "-b",
                "127.0.0.1:0",
                "--timeout",
                "120",
                "server:app",
            ])
            .current_dir(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../deploy/sentence-transformers"
            ))
            .env("ST_MODEL", model_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gunicorn");
        let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
        let mut base = None;
        let mut line = String::new();
        while base.is_none() && reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            base = line.split("Listening at: ").nth(1).map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
            line.clear();
        }
        let base = base.expect("gunicorn did not say where it listens");
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child, base }
    }
}

impl Drop for StService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer, read whole.
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The `Retry-After` header, if sent.
    pub retry_after: Option<String>,
    /// The body as JSON; `None` when it is not JSON.
    pub body: Option<serde_json::Value>,
}

/// One HTTP call on a small runtime of its own, the client giving up after `limit` when one is
/// given (so a hang fails the test instead of stalling it).
pub fn request(
    method: &str,
    url: &str,
    body: Option<serde_json::Value>,
    limit: Option<std::time::Duration>,
) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut client = reqwest::Client::builder();
        if let Some(limit) = limit {
            client = client.timeout(limit);
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = client.build().expect("client").request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .expect("an answer, never a dropped connection");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        Answer {
            status,
            retry_after,
            body: response.json().await.ok(),
        }
    })
}

/// One HTTP call, on a small runtime of its own: the status and the JSON answer.
pub fn http(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let answer = request(method, url, body, None);
    (answer.status, answer.body.expect("a JSON answer"))
}

/// A page's DOM after its scripts ran in a real headless Chromium (Debian's `chromium`, which
/// scripts/test.sh installs); Chromium's virtual time runs the page's timers and fetches.
pub fn chromium_dom(url: &str) -> String {
    let output = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium (scripts/test.sh installs Debian's chromium)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Run `attempt` until it gives an answer or 30 s pass: each attempt does real work (a request),
/// so this waits on a condition, never on a timer.
pub fn until<T>(mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Some(found) = attempt() {
            return Some(found);
        }
    }
    None
}

/// A TCP port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The value of `name`'s sample whose labels include all of `labels`, 0 when there is none.
pub fn sample(server: &Server, name: &str, labels: &[&str]) -> f64 {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let text = runtime.block_on(async {
        reqwest::get(format!("{}/metrics", server.base))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text")
    });
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
