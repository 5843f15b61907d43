//! One headless Chromium, driven over the DevTools protocol: its browser
//! socket creates and closes pages, each page in a fresh browser context
//! (its own cookies and storage, as another person's browser would have).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::within;
use crate::page::Page;

/// Headless, no sandbox (containers), and nothing that talks to the network.
const FLAGS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
];

/// Debian's `chromium` (or another Chromium-based browser) on the `PATH`.
fn executable() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .expect("Chromium is installed (apt-get install chromium; .ci/run does it)")
}

/// A DevTools socket: commands by id, events skipped.
pub struct Cdp {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Cdp {
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = within(tokio_tungstenite::connect_async(url))
            .await
            .expect("a DevTools socket opens");
        Self { socket, next_id: 1 }
    }

    /// Sends `method` without waiting for its answer; returns its id.
    async fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let call = json!({"id": id, "method": method, "params": params});
        within(self.socket.send(Message::text(call.to_string())))
            .await
            .expect("the DevTools socket takes a command");
        id
    }

    /// Sends `method` and returns its `result`, or the protocol's `error`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send(method, params).await;
        loop {
            let Some(Ok(Message::Text(text))) = within(self.socket.next()).await else {
                panic!("the DevTools socket closed");
            };
            let mut reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                return match reply["error"].take() {
                    Value::Null => Ok(reply["result"].take()),
                    error => Err(error),
                };
            }
        }
    }
}

/// A running Chromium and its browser-level DevTools socket.
pub struct Chromium {
    child: tokio::process::Child,
    browser: Cdp,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start() -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let child = tokio::process::Command::new(executable())
            .args(FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Chromium starts");
        let (port, path) =
            within(devtools_address(profile.path().join("DevToolsActivePort"))).await;
        let browser = Cdp::connect(&format!("ws://127.0.0.1:{port}{path}")).await;
        Self {
            child,
            browser,
            port,
            _profile: profile,
        }
    }

    /// Opens `url` in a new browser context; `name` prefixes its screenshots.
    pub async fn open(&mut self, url: &str, name: &str) -> Page {
        self.open_with(url, name, None).await
    }

    /// As [`Chromium::open`], with `init` run before the page's own scripts.
    pub async fn open_with(&mut self, url: &str, name: &str, init: Option<&str>) -> Page {
        let context = self.command("Target.createBrowserContext", json!({})).await;
        let target = self
            .command(
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": context["browserContextId"]}),
            )
            .await;
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let url_of_page = format!("ws://127.0.0.1:{}/devtools/page/{target_id}", self.port);
        let page = Cdp::connect(&url_of_page).await;
        Page::start(page, target_id, name, url, init).await
    }

    /// Closes `page`: its sockets close as when a user closes the tab.
    pub async fn close_page(&mut self, page: Page) {
        let target_id = page.target_id().to_owned();
        drop(page);
        self.command("Target.closeTarget", json!({"targetId": target_id}))
            .await;
    }

    async fn command(&mut self, method: &str, params: Value) -> Value {
        match self.browser.call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method}: {error}"),
        }
    }

    /// Asks Chromium to quit (`Browser.close` stops its helper processes
    /// too) and waits for it.
    pub async fn close(mut self) {
        self.browser.send("Browser.close", json!({})).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The port and browser socket path Chromium writes to the profile's
/// `DevToolsActivePort` once it listens.
async fn devtools_address(file: PathBuf) -> (u16, String) {
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some((port, path)) = text.split_once('\n')
            && let Ok(port) = port.parse()
            && path.trim().starts_with("/devtools/browser/")
        {
            return (port, path.trim().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
