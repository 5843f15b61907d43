//! One page of the demo, driven through its own DevTools socket: evaluate
//! JavaScript, wait until an expression holds, take screenshots.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::chromium::Cdp;
use crate::helpers::within;

/// The viewport every page gets, so screenshots show the desktop layout.
const VIEWPORT: (u32, u32) = (1000, 640);

pub struct Page {
    cdp: Cdp,
    target_id: String,
    name: String,
    shots: u32,
}

impl Page {
    /// Sizes the viewport, installs `init` (JavaScript run before any
    /// script of every document, when given), then loads `url`.
    pub(crate) async fn start(
        cdp: Cdp,
        target_id: String,
        name: &str,
        url: &str,
        init: Option<&str>,
    ) -> Self {
        let mut page = Self {
            cdp,
            target_id,
            name: name.to_owned(),
            shots: 0,
        };
        page.forget_screenshots();
        let (width, height) = VIEWPORT;
        let metrics =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        page.command("Emulation.setDeviceMetricsOverride", metrics)
            .await;
        if let Some(source) = init {
            // Scripts for new documents take effect only with the Page domain on.
            page.command("Page.enable", json!({})).await;
            page.command(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": source}),
            )
            .await;
        }
        page.command("Page.navigate", json!({"url": url})).await;
        page.until("document.readyState === 'complete' && !!document.getElementById('signin')")
            .await;
        page
    }

    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    async fn command(&mut self, method: &str, params: Value) -> Value {
        match self.cdp.call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method}: {error}"),
        }
    }

    /// Evaluates `expression` in the page and returns its value (`Null` when
    /// the page was between documents); an exception fails the test.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let params = json!({"expression": expression, "returnByValue": true});
        let Ok(mut result) = self.cdp.call("Runtime.evaluate", params).await else {
            return Value::Null;
        };
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {result}"
        );
        result["result"]["value"].take()
    }

    /// Evaluates `expression` until it is `true`, failing after the test's patience.
    pub async fn until(&mut self, expression: &str) {
        within(async {
            while self.eval(expression).await != Value::Bool(true) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }

    /// Makes the page behave as the focused tab (`document.hasFocus()`),
    /// which only one page of a headless browser is otherwise.
    pub async fn focus(&mut self) {
        self.command(
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        )
        .await;
    }

    fn screenshot_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser")
    }

    /// Removes this page's screenshots of an earlier run.
    fn forget_screenshots(&self) {
        let Ok(entries) = std::fs::read_dir(Self::screenshot_dir()) else {
            return;
        };
        let prefix = format!("{}-", self.name);
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Saves a PNG of the page as `<target>/tmp/browser/<page>-<n>-<what>.png`.
    pub async fn screenshot(&mut self, what: &str) -> PathBuf {
        let shot = self
            .command("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        let dir = Self::screenshot_dir();
        std::fs::create_dir_all(&dir).expect("a screenshot directory");
        self.shots += 1;
        let file = dir.join(format!("{}-{}-{what}.png", self.name, self.shots));
        std::fs::write(&file, png).expect("the screenshot is written");
        file
    }
}
