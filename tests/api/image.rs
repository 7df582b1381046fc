//! The container image, checked without a container engine: the files the Dockerfile's runtime
//! stage copies are laid out as in the image, and the binary is started with exactly the
//! environment the image sets; its HEALTHCHECK command then passes.

use crate::helpers;
use crate::helpers::SEAL_KEY;
use crate::helpers::processes::{http_status, wait_for_exit};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The runtime stage: its WORKDIR, ENV, COPY lines (source, destination, from another stage),
/// and the HEALTHCHECK command.
struct RuntimeStage {
    workdir: String,
    env: HashMap<String, String>,
    copies: Vec<(Option<String>, String, String)>,
    healthcheck: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim()).expect("exec-form JSON array")
}

fn runtime_stage() -> RuntimeStage {
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    // Join continuation lines, drop comments.
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            instructions.push(std::mem::take(&mut current));
        }
    }
    let start = instructions
        .iter()
        .rposition(|i| i.starts_with("FROM ") && i.ends_with(" AS runtime"))
        .expect("a runtime stage");
    let mut stage = RuntimeStage {
        workdir: "/".into(),
        env: HashMap::new(),
        copies: Vec::new(),
        healthcheck: Vec::new(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
    };
    for instruction in &instructions[start + 1..] {
        let (word, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
        match word {
            "WORKDIR" => stage.workdir = rest.trim().to_owned(),
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV key=value");
                    stage
                        .env
                        .insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
            "COPY" => {
                let mut parts: Vec<&str> = rest.split_whitespace().collect();
                let from = parts
                    .first()
                    .and_then(|p| p.strip_prefix("--from="))
                    .map(str::to_owned);
                if from.is_some() {
                    parts.remove(0);
                }
                assert_eq!(parts.len(), 2, "COPY src dest: {instruction}");
                stage
                    .copies
                    .push((from, parts[0].to_owned(), parts[1].to_owned()));
            }
            "HEALTHCHECK" => {
                let cmd = rest.split_once("CMD").expect("HEALTHCHECK CMD").1;
                stage.healthcheck = json_array(cmd);
            }
            "ENTRYPOINT" => stage.entrypoint = json_array(rest),
            "CMD" => stage.cmd = json_array(rest),
            _ => {}
        }
    }
    stage
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Lays the image's /app out in a temp dir; the binary stands in for the build stage's.
fn lay_out_image(stage: &RuntimeStage) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let inside = |dest: &str| -> PathBuf {
        let absolute = if dest.starts_with('/') {
            dest.to_owned()
        } else {
            format!("{}/{dest}", stage.workdir)
        };
        root.path().join(absolute.trim_start_matches('/'))
    };
    for (from, source, dest) in &stage.copies {
        match from.as_deref() {
            None => {
                let source = Path::new(ROOT).join(source.trim_end_matches('/'));
                assert!(source.exists(), "COPY source {} exists", source.display());
                copy_tree(&source, &inside(dest));
            }
            Some("build") => {
                assert!(source.ends_with("/oauth-broker"), "{source}");
                copy_tree(Path::new(env!("CARGO_BIN_EXE_oauth-broker")), &inside(dest));
            }
            Some(_) => {} // the optional Tableau library stage
        }
    }
    let workdir = inside(&stage.workdir);
    (root, workdir)
}

/// Runs `start` again while the copied binary is "text file busy": another test of this process
/// (the other one here, or any that starts a process) may fork while a copy is open for
/// writing, and the child holds that descriptor until it execs.
fn while_busy<T>(start: impl Fn() -> std::io::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match start() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                assert!(
                    Instant::now() < deadline,
                    "the copied binary stayed busy: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.expect("the image's binary runs"),
        }
    }
}

fn image_command(stage: &RuntimeStage, root: &Path, workdir: &Path, argv: &[String]) -> Command {
    let program = root.join(argv[0].trim_start_matches('/'));
    let mut command = Command::new(program);
    command
        .args(&argv[1..])
        .current_dir(workdir)
        .env_clear()
        .envs(&stage.env);
    command
}

/// The image binds every interface of its container; its bare environment would serve the
/// demo provider (which signs anyone in) to the world, so it is refused, naming the setting.
/// (`check-config`, which validates as `serve` does, so that this test binds no port: the
/// image's 8080 belongs to the test below.)
#[test]
fn the_image_environment_alone_refuses_to_serve_the_demo_provider_publicly() {
    let stage = runtime_stage();
    let (root, workdir) = lay_out_image(&stage);
    let argv = ["/app/oauth-broker".to_owned(), "check-config".to_owned()];
    let output = while_busy(|| {
        image_command(&stage, root.path(), &workdir, &argv)
            .stdin(Stdio::null())
            .output()
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("providers.demo") && stderr.contains("demo.allow_public"),
        "{stderr}"
    );
}

#[test]
fn the_binary_starts_with_exactly_the_image_environment_and_passes_its_healthcheck() {
    let stage = runtime_stage();
    assert_eq!(stage.env["BROKER__SERVER__BIND"], "0.0.0.0:8080");
    let (root, workdir) = lay_out_image(&stage);
    let argv: Vec<String> = stage.entrypoint.iter().chain(&stage.cmd).cloned().collect();
    assert_eq!(argv, ["/app/oauth-broker", "serve"]);
    let server = while_busy(|| {
        image_command(&stage, root.path(), &workdir, &argv)
            // The one addition: the demo provider on a public bind must be asked for.
            .env("BROKER__DEMO__ALLOW_PUBLIC", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
    });
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut guard = Kill(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut healthy = false;
    while Instant::now() < deadline {
        let status = while_busy(|| {
            image_command(&stage, root.path(), &workdir, &stage.healthcheck)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        });
        if status.success() {
            healthy = true;
            break;
        }
        if let Ok(Some(exit)) = guard.0.try_wait() {
            let mut log = String::new();
            use std::io::Read;
            let _ = guard.0.stderr.take().unwrap().read_to_string(&mut log);
            panic!("the image's command exited early ({exit}); is port 8080 or 9090 taken?\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(healthy, "HEALTHCHECK passed within 10 s");
    assert_eq!(http_status("http://127.0.0.1:9090/metrics"), Some(200));
    assert_eq!(http_status("http://127.0.0.1:8080/"), Some(200));
    // STOPSIGNAL SIGTERM: exits 0.
    helpers::processes::signal(guard.0.id(), "-TERM");
    let status = wait_for_exit(&mut guard.0, Duration::from_secs(25))
        .expect("no exit within the grace period");
    assert!(status.success(), "{status}");
}

#[test]
fn production_settings_with_secrets_as_files_pass_check_config_in_the_image_layout() {
    let stage = runtime_stage();
    let (root, workdir) = lay_out_image(&stage);
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().join("spotify_client_secret");
    let seal = secrets.path().join("seal_key");
    std::fs::write(&secret, "spotify-secret-value\n").unwrap();
    std::fs::write(&seal, format!("{SEAL_KEY}\n")).unwrap();
    let output = while_busy(|| {
        image_command(
            &stage,
            root.path(),
            &workdir,
            &["/app/oauth-broker".to_owned(), "check-config".to_owned()],
        )
        .env("BROKER_ENV", "production")
        .env("BROKER__SERVER__PUBLIC_URL", "https://broker.example.com")
        .env("SPOTIFY_CLIENT_ID", "spotify-client-id")
        .env("SPOTIFY_CLIENT_SECRET_FILE", &secret)
        .env("BROKER__SECRETS__SEAL_KEY_FILE", &seal)
        .output()
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("https://broker.example.com/complete/spotify"));
    assert!(!stdout.contains("spotify-secret-value") && !stderr.contains("spotify-secret-value"));
    assert!(!stdout.contains("[providers.demo]\nenabled = true"));
}
