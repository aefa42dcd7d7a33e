//! The status page at `/`, rendered by a real headless Chromium (Debian's `chromium`, which
//! scripts/test.sh installs): it loads, shows the default model healthy, and its numbers move
//! after requests without a reload of the server's side.

mod common;

use std::process::Command;

use common::{chromium_dom as render, http, scratch_dir, Server};
use serde_json::json;

/// The text of the element with `id` in `dom`.
fn tile(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start..];
    let open = rest.find('>').expect(">") + 1;
    let close = rest.find("</").expect("</");
    rest[open..close].to_owned()
}

#[test]
fn the_status_page_renders_live_in_chromium() {
    let dir = scratch_dir("status-page");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 8, cache_enabled: true}\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let embed = |text: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/v1/embeddings", server.base),
            Some(json!({"input": text})),
        );
        assert_eq!(status, 200, "{body}");
    };
    for text in ["one", "two", "one"] {
        embed(text);
    }
    let url = format!("{}/", server.base);
    let before = render(&url);
    assert_eq!(tile(&before, "ready"), "ready");
    assert!(before.contains("data-model=\"h\""), "{before}");
    assert!(
        before.contains(">healthy<"),
        "the default model is healthy: {before}"
    );
    assert_eq!(tile(&before, "requests"), "3");
    assert_eq!(tile(&before, "hit-rate"), "33%");

    for text in ["three", "one", "two", "four"] {
        embed(text);
    }
    let after = render(&url);
    assert_eq!(tile(&after, "requests"), "7", "the numbers moved");
    assert_eq!(tile(&after, "hit-rate"), "43%", "3 hits of 7");

    // A phone-sized screenshot (the README's is docs/status.png, made the same way).
    let shot = dir.join("status.png");
    let made = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
            "--window-size=420,640",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium");
    assert!(made.status.success());
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
}
