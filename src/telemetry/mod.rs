//! Metrics (Prometheus text on `server.metrics_bind`) and logging set-up.
//!
//! The metrics recorder is global to the process; it is installed once, also when tests start
//! several apps in one process. Every metric is named once, in [`catalog`].

pub mod catalog;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

tokio::task_local! {
    /// The ID of the request being served on this task (set by the access log).
    pub static REQUEST_ID: String;
}

/// The request ID of the request being served on this task, if any (for log formatting).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: token endpoints answer in tens to hundreds of milliseconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder on a thread of its own. Building it calibrates quanta's TSC clock, which
/// on a noisy VM runs to its 200 ms limit (one start in twenty here, BENCHMARKS.md) and held up
/// the listener. Until it is installed, metrics recorded are not counted: at most the first
/// fraction of a second of a replica's life.
pub fn install_metrics_in_background() {
    if HANDLE.get().is_some() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("metrics-init".into())
        .spawn(|| drop(metrics_handle()));
    if spawned.is_err() {
        drop(metrics_handle());
    }
}

/// The recorder's handle once installed.
pub fn metrics_handle_if_ready() -> Option<PrometheusHandle> {
    HANDLE.get().cloned()
}

/// The recorder's handle, installing it first if need be (waits for a background install).
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); ours then only
            // renders what it records, which is still correct for /metrics.
            let _ = metrics::set_global_recorder(recorder);
            catalog::describe();
            handle
        })
        .clone()
}

/// `GET /metrics` on the metrics listener.
pub async fn render() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics_handle().render())
}

/// Logging: `env_logger` text by default, one JSON object per line with `log.format = "json"`.
/// `RUST_LOG` wins over `log.level`.
pub fn init_logging(settings: &crate::settings::LogSettings) {
    use std::io::Write;
    let mut builder = env_logger::Builder::new();
    // Our formats carry no colours; without this every line is scanned for escape codes to strip
    // when the output is not a terminal (visible in profiles at load).
    builder.write_style(env_logger::WriteStyle::Never);
    builder.parse_filters(&settings.level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    if settings.format == crate::settings::LogFormat::Json {
        builder.format(|buf, record| {
            let mut line = serde_json::json!({
                "ts": buf.timestamp_millis().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            if let Some(id) = current_request_id() {
                line["request_id"] = id.into();
            }
            writeln!(buf, "{line}")
        });
    } else {
        builder.format(|buf, record| {
            let request = current_request_id()
                .map(|id| format!(" req={id}"))
                .unwrap_or_default();
            writeln!(
                buf,
                "[{} {:5} {}{request}] {}",
                buf.timestamp_millis(),
                record.level(),
                record.target(),
                record.args()
            )
        });
    }
    let _ = builder.try_init();
}
