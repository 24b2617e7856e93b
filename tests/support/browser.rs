//! A real browser for the page tests: Debian's Chromium, headless, driven over WebDriver by
//! `fantoccini` through Debian's ChromeDriver (both installed by `scripts/test`). Screenshots go
//! to `target/screenshots/<name>.png` for a person to open and look at.

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A headless Chromium session and the ChromeDriver it runs under; both end when this is dropped.
pub struct Browser {
    /// The WebDriver client: `goto`, `find`, `screenshot`, …
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

/// Where screenshots are written: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // target/<profile>/deps/<test binary>
            let exe = std::env::current_exe().expect("test binary path");
            exe.ancestors()
                .nth(3)
                .expect("the test binary sits in target/<profile>/deps")
                .to_path_buf()
        });
    target.join("screenshots")
}

impl Browser {
    /// Starts ChromeDriver on a free port and a headless Chromium with a fresh profile, a
    /// `width`×`height` window and the flags this machine's closed network needs.
    pub async fn start(width: u32, height: u32) -> Browser {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: scripts/test installs Debian's chromium and chromium-driver"
            );
        }
        let port = super::free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile =
            std::env::temp_dir().join(format!("gongshi-chromium-{}", uuid::Uuid::new_v4()));
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=zh-CN",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver at {url}: {e}"),
            }
        };
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Opens `url`, a console page, and signs in with `token` through the sign-in form the
    /// console sends a browser without a session to (which then returns to `url`).
    pub async fn sign_in_at(&self, url: &str, token: &str) {
        use fantoccini::Locator::Css;
        self.client.goto(url).await.expect("goto");
        self.client
            .find(Css("input[name=token]"))
            .await
            .expect("the sign-in form's token field")
            .send_keys(token)
            .await
            .expect("type the token");
        self.client
            .find(Css("section.login button[type=submit]"))
            .await
            .expect("the sign-in button")
            .click()
            .await
            .expect("sign in");
    }

    /// Saves what the browser shows now as `target/screenshots/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Ends the WebDriver session (closing Chromium) and stops ChromeDriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
