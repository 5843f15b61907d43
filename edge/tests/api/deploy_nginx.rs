//! `deploy/nginx.conf` in front of a real edge, run by the real nginx
//! (Debian's package): the file is the source, only its addresses and paths
//! are rendered for the test (the upstream → this test's edge, `listen` → a
//! free port, logs and temporary files → a temporary directory, in which
//! nginx runs unprivileged with `-p`). A browser WebSocket whose `Origin`
//! is the balancer's own page is accepted, REST passes, and the access log
//! holds no query string and no token.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{PATIENCE, TestApp, Ws, within};

const HOW_TO_INSTALL: &str = "nginx is not installed (looked on PATH and in /usr/sbin): \
     install Debian's package with `apt-get install -y nginx` (.ci/run does so on fresh machines)";

/// The nginx binary: on `PATH`, or where Debian puts it.
fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{HOW_TO_INSTALL}"))
}

/// `text` with `from` replaced by `to`, failing when `from` is not there
/// (the test must follow the real file, not silently drift from it).
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx.conf no longer has {from:?}"
    );
    text.replace(from, to)
}

/// deploy/nginx.conf with the edges at `edges`, listening on `listen`, and
/// every path nginx writes inside `dir`.
fn render(edges: [SocketAddr; 2], listen: SocketAddr, dir: &Path) -> String {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let dir = dir.display();
    let config = substitute(&source, "edge-1:8000", &edges[0].to_string());
    let config = substitute(&config, "edge-2:8000", &edges[1].to_string());
    let config = substitute(&config, "listen 80;", &format!("listen {listen};"));
    let config = substitute(&config, "/var/log/nginx/", &format!("{dir}/"));
    let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|kind| format!("    {kind}_temp_path {dir}/{kind};\n"))
        .collect();
    substitute(&config, "http {\n", &format!("http {{\n{temp_paths}"))
}

/// A running nginx, killed on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx in front of `app`'s edge and waits until it accepts connections.
    async fn start(app: &TestApp) -> Self {
        let binary = nginx_binary();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let addr = free_port();
        let config = dir.path().join("nginx.conf");
        std::fs::write(
            &config,
            render([app.rest_addr, app.ws_addr], addr, dir.path()),
        )
        .expect("the rendered config");
        let error_log = dir.path().join("error.log");
        let globals = format!(
            "daemon off; master_process off; pid {}; error_log {};",
            dir.path().join("nginx.pid").display(),
            error_log.display()
        );
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config)
            .arg("-e")
            .arg(&error_log)
            .arg("-g")
            .arg(globals)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{}: {err}; {HOW_TO_INSTALL}", binary.display()));
        let mut nginx = Self { child, addr, dir };
        nginx.wait_until_listening().await;
        nginx
    }

    async fn wait_until_listening(&mut self) {
        let started = tokio::time::Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited with {status}: {}", self.read("error.log"));
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "nginx did not listen: {}",
                self.read("error.log")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }

    /// The access log, once it has a line for each of `paths`.
    async fn access_log_with(&self, paths: &[&str]) -> String {
        within(async {
            loop {
                let log = self.read("access.log");
                if paths.iter().all(|path| log.contains(path)) {
                    return log;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("an address")
}

/// A WebSocket through nginx with a browser's `Origin`, or the refusal's status.
async fn browser_ws(nginx: &Nginx, path: &str, origin: &str) -> Result<Ws, u16> {
    let mut request = format!("ws://{}{path}", nginx.addr)
        .into_client_request()
        .expect("a request");
    let origin = HeaderValue::from_str(origin).expect("an origin");
    request.headers_mut().insert("origin", origin);
    match within(tokio_tungstenite::connect_async(request)).await {
        Ok((stream, _response)) => Ok(Ws { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("handshake through nginx failed: {other}"),
    }
}

#[tokio::test]
async fn deploy_nginx_passes_browser_websockets_and_rest_and_logs_no_tokens() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let nginx = Nginx::start(&app).await;

    let page = format!("http://{}", nginx.addr);
    let path = format!("/ws/chat/{room}/?token={}", alice.token);
    let mut ws = browser_ws(&nginx, &path, &page)
        .await
        .unwrap_or_else(|status| panic!("the balancer's own page got {status}"));
    assert!(ws.history().await.is_empty());
    ws.close().await;
    let foreign = browser_ws(&nginx, &path, "http://evil.test").await;
    assert_eq!(foreign.err(), Some(403), "a foreign page is still refused");

    let url = format!("http://{}/en/api/v1/users/me?token=in-a-query", nginx.addr);
    let response = within(
        app.http
            .request(Method::GET, url)
            .bearer_auth(&alice.token)
            .send(),
    )
    .await
    .expect("nginx answers");
    assert_eq!(response.status(), StatusCode::OK);

    let log = nginx
        .access_log_with(&[&format!("/ws/chat/{room}/"), "/en/api/v1/users/me"])
        .await;
    let signature = alice.token.rsplit('.').next().expect("a JWT");
    assert!(
        !log.contains(signature),
        "a token in the access log:\n{log}"
    );
    assert!(
        !log.contains('?'),
        "a query string in the access log:\n{log}"
    );
    assert!(
        !log.contains("token"),
        "a token parameter in the access log:\n{log}"
    );
}
