//! A real headless Chromium driven through chromium-driver (WebDriver) with fantoccini.
//!
//! Each `Browser` is its own `chromedriver` child on a free port, in its own process group, with
//! one session and a fresh profile directory. Dropping it ends the session and kills the whole
//! group (chromedriver and the Chromium it started), so a failing test leaves nothing running.

use super::processes::{free_port, http_status};
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long any one wait in a browser test may take.
pub const BROWSER_WAIT: Duration = Duration::from_secs(15);

/// Flags that work as root on these machines (shared/STACK.md).
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1000,800",
];

/// The chromedriver child; killed with its whole process group on drop.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers. The port is free when
    /// chosen, but another process may take it before chromedriver binds (it then exits at
    /// once), so a start is tried on a fresh port several times before giving up. With every
    /// test in one process starting servers on free ports (replicas, Redis, sentinels), three
    /// clashes in a row were seen; each failed attempt costs milliseconds.
    async fn start(profile: &std::path::Path) -> Driver {
        const ATTEMPTS: usize = 10;
        let log_path = profile.join("chromedriver.log");
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("chromedriver is installed (Debian package chromium-driver)");
            let mut driver = Driver {
                child,
                port,
                session: None,
            };
            let status = format!("http://127.0.0.1:{port}/status");
            let deadline = Instant::now() + BROWSER_WAIT;
            loop {
                if http_status(&status) == Some(200) {
                    return driver;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not answer on port {port}"
                );
                if let Ok(Some(exit)) = driver.child.try_wait() {
                    let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                    assert!(
                        attempt < ATTEMPTS,
                        "chromedriver exited at start {ATTEMPTS} times; last: {exit}: {said}"
                    );
                    break;
                }
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        unreachable!("every attempt either returned or asserted")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ask chromedriver to quit the browser cleanly first (bounded), then make sure.
        if let Some(session) = &self.session {
            let _ = raw_request(self.port, "DELETE", &format!("/session/{session}"));
        }
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Browser {
    pub client: Client,
    // Dropped after the client: ends the session, then the processes, then the profile.
    driver: Driver,
    _profile: tempfile::TempDir,
    /// A name for messages and screenshots ("extension", "system browser").
    pub name: String,
}

impl Browser {
    /// Starts chromedriver and a fresh Chromium profile.
    pub async fn start(name: &str) -> Browser {
        oauth_broker::startup::install_crypto_provider();
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut driver = Driver::start(profile.path()).await;
        let port = driver.port;

        let data_dir = profile.path().join("chromium");
        let mut args: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", data_dir.display()));
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = actix_rt::time::timeout(
            Duration::from_secs(30),
            ClientBuilder::rustls()
                .expect("rustls connector")
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("Chromium starts within 30 s")
        .expect("a WebDriver session");
        driver.session = client.session_id().await.ok().flatten();
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(5)),
                Some(BROWSER_WAIT),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts are set");
        Browser {
            client,
            driver,
            _profile: profile,
            name: name.to_owned(),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: open {url}: {e}", self.name));
    }

    /// Runs `script` (a function body; `return` gives the value) in the current window.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name))
    }

    /// Polls `script` until it returns a truthy value; panics after `within` with `explain`'s
    /// answer (another script) in the message.
    pub async fn wait_js(
        &self,
        what: &str,
        script: &str,
        within: Duration,
        explain: &str,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(value) = self.client.execute(script, vec![]).await
                && truthy(&value)
            {
                return value;
            }
            if Instant::now() >= deadline {
                let detail = self
                    .client
                    .execute(explain, vec![])
                    .await
                    .unwrap_or_else(|e| json!(format!("(could not read the page: {e})")));
                let shot = self
                    .save_screenshot(&format!("FAILED-{}", slug(what)))
                    .await;
                panic!(
                    "{}: timed out after {within:?} waiting until {what}; page: {detail}; screenshot: {}",
                    self.name,
                    shot.display()
                );
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a CSS selector matches an element.
    pub async fn wait_for(&self, css: &str) {
        let script = format!("return document.querySelector({}) !== null;", json!(css));
        self.wait_js(
            &format!("{css} is on the page"),
            &script,
            BROWSER_WAIT,
            "return document.location.href + ' :: ' + (document.body ? document.body.innerText : '');",
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await;
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: find {css}: {e}", self.name));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css}: {e}", self.name));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css).await;
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{}: type into {css}: {e}", self.name));
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await;
        let script = format!(
            "const n = document.querySelector({}); return n ? n.innerText : null;",
            json!(css)
        );
        self.js(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn body_text(&self) -> String {
        self.js("return document.body ? document.body.innerText : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn windows(&self) -> Vec<WindowHandle> {
        self.client.windows().await.unwrap()
    }

    pub async fn window(&self) -> WindowHandle {
        self.client.window().await.unwrap()
    }

    pub async fn switch_to(&self, handle: WindowHandle) {
        self.client
            .switch_to_window(handle)
            .await
            .unwrap_or_else(|e| panic!("{}: switch window: {e}", self.name));
    }

    /// Waits for a window that is not in `known` and returns it.
    pub async fn wait_new_window(&self, known: &[WindowHandle]) -> WindowHandle {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            let all = self.windows().await;
            if let Some(new) = all.into_iter().find(|w| !known.contains(w)) {
                return new;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no new window opened within {BROWSER_WAIT:?}",
                self.name
            );
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the current window under `target/browser-screenshots/` and returns its path.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).unwrap(),
            Err(e) => eprintln!("{}: no screenshot {name}: {e}", self.name),
        }
        path
    }

    /// Makes the current tab's viewport exactly `width` x `height` CSS pixels, as a dashboard
    /// zone of that size frames the page, through Chromium's device emulation (a window cannot
    /// be made that small); `None` ends the emulation.
    pub fn emulate_viewport(&self, size: Option<(u32, u32)>) {
        let session = self.driver.session.as_ref().expect("a WebDriver session");
        let command = match size {
            Some((width, height)) => json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false },
            }),
            None => json!({ "cmd": "Emulation.clearDeviceMetricsOverride", "params": {} }),
        };
        let answer = raw_request_body(
            self.driver.port,
            "POST",
            &format!("/session/{session}/goog/cdp/execute"),
            &command.to_string(),
        )
        .expect("chromedriver answers");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{}: {answer}",
            self.name
        );
    }

    /// The browser's console messages since the last call (chromedriver's log endpoint), as
    /// `(level, message)` pairs.
    pub fn console(&self) -> Vec<(String, String)> {
        let Some(session) = &self.driver.session else {
            return Vec::new();
        };
        let body = raw_request_body(
            self.driver.port,
            "POST",
            &format!("/session/{session}/se/log"),
            r#"{"type":"browser"}"#,
        )
        .unwrap_or_default();
        let json: Value = body
            .find("\r\n\r\n")
            .and_then(|at| serde_json::from_str(&body[at + 4..]).ok())
            .unwrap_or(Value::Null);
        json["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `<target>/browser-screenshots`, next to the `tmp` folder Cargo gives integration tests.
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("browser-screenshots")
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect()
}

/// A bounded blocking HTTP request without a body (used from `Drop`, where nothing is async).
fn raw_request(port: u16, method: &str, path: &str) -> std::io::Result<()> {
    raw_request_body(port, method, path, "").map(|_| ())
}

/// A bounded blocking HTTP/1.1 request with `Connection: close`; the whole answer, head and body.
fn raw_request_body(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // Read the head, then exactly Content-Length bytes (chromedriver may keep the socket open).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                break;
            }
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
