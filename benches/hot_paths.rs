//! In-process hot paths of one sign-in, measured with criterion (`cargo bench`):
//! handing a `signedin` frame through the `SessionHub` to the session's connection, single use of
//! tickets and `state`s in the in-memory store, sealing and opening a refresh handle, and PKCE.
//! The end-to-end figures are the load generator's (`examples/loadgen.rs`, BENCHMARKS.md).

use actix::prelude::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use oauth_broker::clock;
use oauth_broker::oauth::pkce::s256_challenge;
use oauth_broker::random;
use oauth_broker::seal::RefreshSealer;
use oauth_broker::sensitive::Sensitive;
use oauth_broker::store::{MemoryStore, PendingAuthorization, SigninStore, SigninTicket};
use oauth_broker::ws::connection::Deliver;
use oauth_broker::ws::hub::SessionHub;
use oauth_broker::ws::protocol::ServerMessage;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sessions registered in the hub (and live records in the store) while measuring.
const POPULATION: usize = 10_000;

/// Stands in for a connection actor: takes the frame as the real one would before writing it.
struct FakeConnection;

impl Actor for FakeConnection {
    type Context = Context<Self>;
}

impl Handler<Deliver> for FakeConnection {
    type Result = bool;

    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) -> bool {
        black_box(msg);
        true
    }
}

fn signedin_frame(sealer: &RefreshSealer) -> ServerMessage {
    ServerMessage::Signedin {
        provider: "mock".into(),
        access_token: Sensitive::new("at-BQDxqz3mN0kO8bE2pW5yZtR7vU1cF4hJ6gL9aS0dXeK"),
        token_type: "Bearer".into(),
        expires_in: Some(3600),
        scope: Some("user-top-read".into()),
        refresh: Some(Sensitive::new(sealer.seal(
            "mock",
            &Sensitive::new("rt-AQBv7m2kP9xW4sN1jR8tY3uZ6cF0hL5gD2aS7eK"),
            1_800_000_000,
        ))),
    }
}

fn hub_routing(c: &mut Criterion) {
    // The broker installs the Prometheus recorder; counting deliveries is part of the path.
    let _ = oauth_broker::telemetry::metrics_handle();
    let sealer = RefreshSealer::random();
    let frame = signedin_frame(&sealer);
    c.bench_function(
        "hub: signedin frame handed to a connected session (10k sessions)",
        |b| {
            b.iter_custom(|iters| {
                let frame = frame.clone();
                actix_rt::System::new().block_on(async move {
                    let store = SigninStore::Memory(Arc::new(MemoryStore::new(clock::system())));
                    let hub = SessionHub::new(store, 120);
                    let connection = FakeConnection.start().recipient::<Deliver>();
                    let sessions: Vec<String> =
                        (0..POPULATION).map(|_| random::session_id()).collect();
                    for (serial, session) in sessions.iter().enumerate() {
                        hub.connect(session.clone(), serial as u64, connection.clone());
                    }
                    let started = Instant::now();
                    for i in 0..iters as usize {
                        let delivered = hub
                            .token_ready(&sessions[i % POPULATION], frame.clone())
                            .await;
                        assert!(delivered.is_ok());
                    }
                    started.elapsed()
                })
            })
        },
    );
    c.bench_function("signedin frame to JSON", |b| {
        b.iter(|| black_box(&frame).to_json())
    });
}

fn single_use(c: &mut Criterion) {
    let store = MemoryStore::new(clock::system());
    for _ in 0..POPULATION {
        let filler = SigninTicket {
            session: random::session_id(),
            provider: "mock".into(),
        };
        store.put_ticket(&random::opaque_token(), filler, 120);
    }
    let keys: Vec<String> = (0..1024).map(|_| random::opaque_token()).collect();
    let ticket = SigninTicket {
        session: random::session_id(),
        provider: "mock".into(),
    };
    let mut i = 0;
    c.bench_function("ticket: put, take, second take refused (10k live)", |b| {
        b.iter(|| {
            let key = &keys[i % keys.len()];
            i += 1;
            store.put_ticket(key, ticket.clone(), 120);
            assert!(store.take_ticket(key).is_some());
            assert!(store.take_ticket(key).is_none());
        })
    });

    for _ in 0..POPULATION {
        let filler = PendingAuthorization {
            session: random::session_id(),
            provider: "mock".into(),
            verifier: Sensitive::new(random::pkce_verifier()),
        };
        store.put_pending(&random::opaque_token(), filler, 600);
    }
    let pending = PendingAuthorization {
        session: random::session_id(),
        provider: "mock".into(),
        verifier: Sensitive::new(random::pkce_verifier()),
    };
    c.bench_function("state: put, take, second take refused (10k live)", |b| {
        b.iter(|| {
            let key = &keys[i % keys.len()];
            i += 1;
            store.put_pending(key, pending.clone(), 600);
            assert!(store.take_pending(key).is_some());
            assert!(store.take_pending(key).is_none());
        })
    });
    c.bench_function("random: opaque token (ticket, state)", |b| {
        b.iter(random::opaque_token)
    });
}

fn sealing(c: &mut Criterion) {
    let sealer = RefreshSealer::random();
    let token =
        Sensitive::new("rt-AQBv7m2kP9xW4sN1jR8tY3uZ6cF0hL5gD2aS7eKAQBv7m2kP9xW4sN1jR8tY3uZ6c");
    c.bench_function("refresh handle: seal", |b| {
        b.iter(|| sealer.seal(black_box("mock"), black_box(&token), 1_800_000_000))
    });
    let handle = sealer.seal("mock", &token, 1_800_000_000);
    c.bench_function("refresh handle: open", |b| {
        b.iter(|| sealer.open(black_box(&handle)).expect("opens"))
    });
}

fn pkce(c: &mut Criterion) {
    c.bench_function("pkce: new verifier and S256 challenge", |b| {
        b.iter(|| s256_challenge(&random::pkce_verifier()))
    });
    c.bench_function("pkce: S256 challenge of a verifier", |b| {
        b.iter_batched(
            random::pkce_verifier,
            |v| s256_challenge(&v),
            BatchSize::SmallInput,
        )
    });
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hub_routing, single_use, sealing, pkce
}
criterion_main!(hot_paths);
