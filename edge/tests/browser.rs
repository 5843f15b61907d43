//! The demo page in headless Chromium: alice sends from her pane, bob's pane
//! shows the message, alice's shows the read tick, and an edit and a delete
//! reach bob's pane live. Chromium is driven over the DevTools protocol (a
//! few `Runtime.evaluate` calls on the page's WebSocket); `.ci/run` installs
//! Debian's `chromium` when it is missing.

#[allow(dead_code, unused_imports)]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use edge::config::{Config as EdgeConfig, Secret};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{SECRET, TestApp, within};

/// The flags the issue asks for, plus a throwaway profile and a DevTools port.
const FLAGS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
];

/// Debian's `chromium` (or another Chromium-based browser) on the `PATH`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .expect("Chromium is installed (apt-get install chromium; .ci/run does it)")
}

/// A headless Chromium showing one page, driven through that page's DevTools socket.
struct Browser {
    child: tokio::process::Child,
    page: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The DevTools HTTP port.
    port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(url: &str) -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let child = tokio::process::Command::new(chromium())
            .args(FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Chromium starts");
        let port = within(devtools_port(profile.path().join("DevToolsActivePort"))).await;
        let targets: Value = within(async {
            loop {
                let list = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await;
                if let Ok(response) = list
                    && let Ok(targets) = response.json::<Value>().await
                    && targets
                        .as_array()
                        .is_some_and(|targets| targets.iter().any(is_page))
                {
                    return targets;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let target = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| is_page(t))
            .unwrap();
        let socket_url = target["webSocketDebuggerUrl"].as_str().unwrap();
        let (page, _) = within(tokio_tungstenite::connect_async(socket_url))
            .await
            .expect("the DevTools socket opens");
        Self {
            child,
            page,
            next_id: 1,
            port,
            _profile: profile,
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let call = json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true},
        });
        within(self.page.send(Message::text(call.to_string())))
            .await
            .unwrap();
        loop {
            let Some(Ok(Message::Text(text))) = within(self.page.next()).await else {
                panic!("the DevTools socket closed");
            };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply["result"]["exceptionDetails"].is_null(), "{reply}");
                return reply["result"]["result"]["value"].clone();
            }
        }
    }

    /// Evaluates `expression` until it is `true`, failing after the test's patience.
    async fn until(&mut self, expression: &str) {
        within(async {
            while self.eval(expression).await != Value::Bool(true) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }
}

impl Browser {
    /// Asks Chromium to quit (`Browser.close`, so it stops its helper
    /// processes too) and waits for it.
    async fn close(mut self) {
        let version = reqwest::get(format!("http://127.0.0.1:{}/json/version", self.port)).await;
        if let Ok(response) = version
            && let Ok(version) = response.json::<Value>().await
            && let Some(url) = version["webSocketDebuggerUrl"].as_str()
            && let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await
        {
            let close = json!({"id": 1, "method": "Browser.close"});
            let _ = socket.send(Message::text(close.to_string())).await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn is_page(target: &Value) -> bool {
    target["type"] == "page" && target["webSocketDebuggerUrl"].is_string()
}

/// The port Chromium writes to the profile's `DevToolsActivePort` once it listens.
async fn devtools_port(file: PathBuf) -> u16 {
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(port) = text.lines().next().and_then(|line| line.parse().ok())
        {
            return port;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// JavaScript: the `li` of `pane` whose text is `text`, as an expression.
fn message(pane: &str, text: &str) -> String {
    format!(
        "[...document.querySelectorAll('#pane-{pane} .msg')].find(li => li.querySelector('.text').textContent === {text:?})"
    )
}

#[tokio::test]
async fn the_demo_page_shows_a_message_its_read_tick_an_edit_and_a_delete_live() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = EdgeConfig::new(core_url);
        config.dev_mode = true;
        config.jwt_secret = Some(Secret::new(SECRET));
        config
    })
    .await;
    let mut browser = Browser::open(&format!("http://{}/", app.rest_addr)).await;
    browser
        .until("document.querySelectorAll('[data-connected=\"true\"]').length === 2")
        .await;

    browser
        .eval(
            "(() => { const form = document.querySelector('#pane-alice form'); \
             form.elements.text.value = 'hello from the browser'; \
             form.querySelector('button').click(); return true; })()",
        )
        .await;
    let at_bob = message("bob", "hello from the browser");
    let at_alice = message("alice", "hello from the browser");
    browser.until(&format!("!!{at_bob}")).await;
    browser
        .until(&format!("{at_alice}?.dataset.status === 'read'"))
        .await;
    assert_eq!(
        browser
            .eval(&format!("{at_alice}.querySelector('.tick').textContent"))
            .await,
        "✓✓"
    );

    browser
        .eval(&format!(
            "window.prompt = () => 'edited in the browser'; {at_alice}.querySelector('button.edit').click(); true"
        ))
        .await;
    let edited_at_bob = message("bob", "edited in the browser");
    browser.until(&format!("!!{edited_at_bob}")).await;
    browser
        .eval(&format!(
            "{}.querySelector('button.delete').click(); true",
            message("alice", "edited in the browser")
        ))
        .await;
    browser
        .until(&format!(
            "{}?.classList.contains('deleted') === true",
            message("bob", "message deleted")
        ))
        .await;
    browser.close().await;
}
