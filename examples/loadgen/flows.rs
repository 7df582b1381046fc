//! `flows`: C users, each signing in again and again for a fixed time, the way an extension and
//! its sign-in window would. Every flow is timed whole (from asking for a link to holding the
//! token) and from sending `/complete` to the token frame.
//!
//! oauth-broker: `begin` → `signin{url}` → GET url (303, `state` in Location) → GET
//! `/complete/{provider}?code&state` → (`confirm`, type the page's code →) `signedin`.
//! The Tableau sample: the page builds the authorize URL itself with the socket id as `state`,
//! so a flow is GET `/complete?code&state=<socket id>` → `42["signedin",...]`.
//! Neither visits the provider's authorize page: the generator plays the provider's redirect.

use super::extension::{Event, Extension, Service};
use super::net::{HttpConn, path_of, query_param, source_address};
use super::procstat::{CpuReport, CpuWindow, Watched};
use super::stats::{Errors, Percentiles, Samples};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct FlowArgs {
    pub service: Service,
    pub label: String,
    pub ws_targets: Vec<SocketAddr>,
    pub http_targets: Vec<SocketAddr>,
    pub provider: String,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub step_timeout: Duration,
    pub per_address: usize,
    pub watched: Vec<Watched>,
    pub threads: usize,
}

#[derive(Serialize)]
pub struct FlowReport {
    pub scenario: &'static str,
    pub service: Service,
    pub label: String,
    pub concurrency: usize,
    pub duration_s: f64,
    pub completed: usize,
    pub signins_per_s: f64,
    /// How many completed flows went through a confirmation code.
    pub confirmed: usize,
    pub errors: Errors,
    pub warmup_errors: u64,
    pub flow: Percentiles,
    /// From sending `/complete` to receiving the token frame.
    pub complete_to_signedin: Percentiles,
    /// From sending `/complete` to the first frame it causes (`confirm` or `signedin`).
    pub complete_to_first_frame: Percentiles,
    pub cpu: CpuReport,
    pub loadgen_threads: usize,
    /// The generator used ≥ 90 % of the cores its runtime may use.
    pub generator_bound: bool,
    /// All cores ≥ 95 % busy: every process here shared them.
    pub machine_saturated: bool,
}

struct Ctx {
    args: FlowArgs,
    measure_from: Instant,
    end: Instant,
}

#[derive(Default)]
struct UserResult {
    flow: Samples,
    segment: Samples,
    first: Samples,
    confirmed: usize,
    errors: Errors,
    warmup_errors: u64,
}

struct Timings {
    started: Instant,
    complete_sent: Instant,
    first_frame: Instant,
    signedin: Instant,
    confirmed: bool,
}

pub async fn run(args: FlowArgs) -> FlowReport {
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let ctx = Arc::new(Ctx {
        args,
        measure_from,
        end,
    });
    let mut handles = Vec::new();
    for user in 0..ctx.args.concurrency {
        let ctx = ctx.clone();
        handles.push(tokio::spawn(async move { user_loop(ctx, user).await }));
    }
    let mut watched = ctx.args.watched.clone();
    watched.push(Watched::this_process());
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = CpuWindow::start(&watched);
    tokio::time::sleep_until(end.into()).await;
    let cpu = cpu.finish();

    let mut all = UserResult::default();
    for h in handles {
        if let Ok(r) = h.await {
            all.flow.merge(r.flow);
            all.segment.merge(r.segment);
            all.first.merge(r.first);
            all.confirmed += r.confirmed;
            all.errors.merge(r.errors);
            all.warmup_errors += r.warmup_errors;
        }
    }
    let args = &ctx.args;
    let duration_s = args.duration.as_secs_f64();
    let completed = all.flow.len();
    let generator = cpu
        .processes
        .iter()
        .find(|p| p.label == "loadgen")
        .map_or(0.0, |p| p.cores);
    let generator_bound = generator >= 0.9 * args.threads as f64;
    let machine_saturated = cpu.machine_busy >= 0.95;
    FlowReport {
        scenario: "flows",
        service: args.service,
        label: args.label.clone(),
        concurrency: args.concurrency,
        duration_s,
        completed,
        signins_per_s: completed as f64 / duration_s,
        confirmed: all.confirmed,
        errors: all.errors,
        warmup_errors: all.warmup_errors,
        flow: all.flow.summary(),
        complete_to_signedin: all.segment.summary(),
        complete_to_first_frame: all.first.summary(),
        cpu,
        loadgen_threads: args.threads,
        generator_bound,
        machine_saturated,
    }
}

async fn user_loop(ctx: Arc<Ctx>, user: usize) -> UserResult {
    let args = &ctx.args;
    let source = source_address(user, args.per_address);
    let ws_target = args.ws_targets[user % args.ws_targets.len()];
    let http_target = args.http_targets[(user + 1) % args.http_targets.len()];
    let mut result = UserResult::default();
    let mut serial = 0u64;
    let error = |result: &mut UserResult, kind: String| {
        let now = Instant::now();
        if now < ctx.measure_from {
            result.warmup_errors += 1;
        } else if now <= ctx.end {
            result.errors.count(kind);
        }
    };
    'connect: while Instant::now() < ctx.end {
        let opened = tokio::time::timeout(
            args.step_timeout,
            Extension::open(args.service, source, ws_target),
        )
        .await
        .unwrap_or_else(|_| Err("timeout_open".into()));
        let mut ext = match opened {
            Ok(ext) => ext,
            Err(kind) => {
                error(&mut result, kind);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue 'connect;
            }
        };
        let mut http = HttpConn::new(source, http_target);
        while Instant::now() < ctx.end {
            serial += 1;
            let code = format!("u{user}n{serial}");
            let outcome = match args.service {
                Service::Broker => broker_flow(args, &mut ext, &mut http, &code).await,
                Service::Socketio => sample_flow(args, &mut ext, &mut http, &code).await,
            };
            match outcome {
                Ok(t) => {
                    if t.started >= ctx.measure_from && t.signedin <= ctx.end {
                        result.flow.record(t.signedin - t.started);
                        result.segment.record(t.signedin - t.complete_sent);
                        result.first.record(t.first_frame - t.complete_sent);
                        result.confirmed += t.confirmed as usize;
                    }
                }
                Err(kind) => {
                    error(&mut result, kind);
                    // A frame of the failed attempt may still come: start over on a new socket.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue 'connect;
                }
            }
        }
    }
    result
}

async fn step<T>(
    limit: Duration,
    name: &str,
    fut: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| Err(format!("timeout_{name}")))
}

async fn broker_flow(
    args: &FlowArgs,
    ext: &mut Extension,
    http: &mut HttpConn,
    code: &str,
) -> Result<Timings, String> {
    let limit = args.step_timeout;
    let started = Instant::now();
    let begin = format!(r#"{{"type":"begin","provider":"{}"}}"#, args.provider);
    ext.send_text(&begin).await?;
    let url = step(limit, "signin_frame", async {
        loop {
            match ext.next_event().await? {
                Event::Signin { url } => return Ok(url),
                Event::Error { code } => return Err(format!("ws_error_{code}")),
                _ => continue,
            }
        }
    })
    .await?;
    let link = step(limit, "signin_link", http.get(path_of(&url))).await?;
    if link.status != 303 {
        return Err(format!("signin_http_{}", link.status));
    }
    let state = link
        .location
        .as_deref()
        .and_then(|l| query_param(l, "state"))
        .ok_or("signin_no_state")?;
    let path = format!(
        "/complete/{}?code={code}&state={}",
        args.provider,
        encode(&state)
    );
    let complete_sent = Instant::now();
    let (page, (first, first_at)) = complete_and_first_frame(limit, ext, http, &path).await?;
    match first {
        Event::Signedin => Ok(Timings {
            started,
            complete_sent,
            first_frame: first_at,
            signedin: first_at,
            confirmed: false,
        }),
        Event::Confirm => {
            let typed = confirm_code(&page).ok_or("complete_no_code")?;
            ext.send_text(&format!(r#"{{"type":"confirm","code":"{typed}"}}"#))
                .await?;
            let signedin = step(limit, "signedin", async {
                loop {
                    match ext.next_event().await? {
                        Event::Signedin => return Ok(Instant::now()),
                        Event::Error { code } => return Err(format!("ws_error_{code}")),
                        _ => continue,
                    }
                }
            })
            .await?;
            Ok(Timings {
                started,
                complete_sent,
                first_frame: first_at,
                signedin,
                confirmed: true,
            })
        }
        Event::Error { code } => Err(format!("ws_error_{code}")),
        _ => Err("ws_unexpected".into()),
    }
}

async fn sample_flow(
    args: &FlowArgs,
    ext: &mut Extension,
    http: &mut HttpConn,
    code: &str,
) -> Result<Timings, String> {
    let started = Instant::now();
    let path = format!("/complete?code={code}&state={}", encode(&ext.id));
    let (_, (first, at)) = complete_and_first_frame(args.step_timeout, ext, http, &path).await?;
    match first {
        Event::Signedin => Ok(Timings {
            started,
            complete_sent: started,
            first_frame: at,
            signedin: at,
            confirmed: false,
        }),
        _ => Err("ws_unexpected".into()),
    }
}

/// Sends `/complete` and, at the same time, waits for the first frame it causes: with
/// confirmation off the token frame can arrive before the page does.
async fn complete_and_first_frame(
    limit: Duration,
    ext: &mut Extension,
    http: &mut HttpConn,
    path: &str,
) -> Result<(Vec<u8>, (Event, Instant)), String> {
    let page = async {
        let r = step(limit, "complete", http.get(path)).await?;
        if r.status != 200 {
            return Err(format!("complete_http_{}", r.status));
        }
        Ok(r.body)
    };
    let frame = step(limit, "complete_frame", async {
        loop {
            match ext.next_event().await? {
                Event::Other | Event::Signin { .. } => continue,
                e => return Ok((e, Instant::now())),
            }
        }
    });
    // A failed page ends the attempt at once instead of waiting for a frame that never comes.
    tokio::pin!(page, frame);
    let (mut got_page, mut got_frame) = (None, None);
    while got_page.is_none() || got_frame.is_none() {
        tokio::select! {
            r = &mut page, if got_page.is_none() => got_page = Some(r?),
            r = &mut frame, if got_frame.is_none() => got_frame = Some(r?),
        }
    }
    Ok((got_page.expect("set"), got_frame.expect("set")))
}

fn confirm_code(page: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"id=\"confirm-code\">";
    let at = page.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let rest = &page[at..];
    let end = rest.iter().position(|&b| b == b'<')?;
    let code: String = std::str::from_utf8(&rest[..end])
        .ok()?
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    (!code.is_empty()).then_some(code)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl std::fmt::Display for FlowReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "flows {}  (concurrency {})",
            self.label, self.concurrency
        )?;
        writeln!(
            f,
            "  {} sign-ins in {:.1} s = {:.0}/s ({} with a confirmation code); errors: {} (warm-up: {})",
            self.completed,
            self.duration_s,
            self.signins_per_s,
            self.confirmed,
            self.errors,
            self.warmup_errors
        )?;
        writeln!(f, "  whole flow:            {}", self.flow)?;
        writeln!(f, "  /complete → signedin:  {}", self.complete_to_signedin)?;
        writeln!(
            f,
            "  /complete → 1st frame: {}",
            self.complete_to_first_frame
        )?;
        for p in &self.cpu.processes {
            writeln!(
                f,
                "  CPU {:<10} {:6.2} s = {:.2} cores ({} threads)",
                p.label, p.seconds, p.cores, p.threads
            )?;
        }
        write!(
            f,
            "  machine {:.0} % busy of {} cores{}{}",
            self.cpu.machine_busy * 100.0,
            self.cpu.machine_cores,
            if self.machine_saturated {
                "; SATURATED: the processes share the cores"
            } else {
                ""
            },
            if self.generator_bound {
                "; THE GENERATOR IS THE BOTTLENECK"
            } else {
                ""
            }
        )
    }
}
