//! In-process hot paths of one sign-in, measured with criterion (`cargo bench`):
//! handing a `signedin` frame (`TokenReady`) through the `SessionHub` actor to the session's
//! connection actor, single use of
//! tickets and `state`s in the in-memory store, sealing and opening a refresh handle, and PKCE.
//! The end-to-end figures are the load generator's (`examples/loadgen.rs`, BENCHMARKS.md).

use actix::prelude::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use oauth_broker::clock;
use oauth_broker::oauth::pkce::s256_challenge;
use oauth_broker::random;
use oauth_broker::sealing::RefreshSealer;
use oauth_broker::secrets::{AccessToken, PkceVerifier, RefreshToken, SessionId, State, Ticket};
use oauth_broker::store::{MemoryStore, PendingAuthorization, SigninStore, SigninTicket};
use oauth_broker::ws::hub::{Connect, Deliver, Registry, TokenReady};
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
        access_token: AccessToken::new("at-BQDxqz3mN0kO8bE2pW5yZtR7vU1cF4hJ6gL9aS0dXeK"),
        token_type: "Bearer".into(),
        expires_in: Some(3600),
        scope: Some("user-top-read".into()),
        refresh: Some(sealer.seal(
            "mock",
            &RefreshToken::new("rt-AQBv7m2kP9xW4sN1jR8tY3uZ6cF0hL5gD2aS7eK"),
            1_800_000_000,
        )),
        id_token: None,
        claims: None,
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
                    let hub = Registry::new(store, 120).hub_on_this_thread();
                    let connection = FakeConnection.start().recipient::<Deliver>();
                    let sessions: Vec<SessionId> =
                        (0..POPULATION).map(|_| random::session_id()).collect();
                    for (serial, session) in sessions.iter().enumerate() {
                        hub.send(Connect {
                            session: session.clone(),
                            serial: serial as u64,
                            connection: connection.clone(),
                        })
                        .await
                        .expect("hub running");
                    }
                    let started = Instant::now();
                    for i in 0..iters as usize {
                        let delivered = hub
                            .send(TokenReady {
                                session: sessions[i % POPULATION].clone(),
                                frame: frame.clone(),
                            })
                            .await;
                        assert!(matches!(delivered, Ok(Ok(()))));
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
        store.put_ticket(&random::ticket(), filler, 120);
    }
    let keys: Vec<String> = (0..1024).map(|_| random::opaque_token()).collect();
    let tickets: Vec<Ticket> = keys.iter().map(Ticket::new).collect();
    let states: Vec<State> = keys.iter().map(State::new).collect();
    let ticket = SigninTicket {
        session: random::session_id(),
        provider: "mock".into(),
    };
    let mut i = 0;
    c.bench_function("ticket: put, take, second take refused (10k live)", |b| {
        b.iter(|| {
            let key = &tickets[i % keys.len()];
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
            verifier: random::pkce_verifier(),
            nonce: None,
        };
        store.put_pending(&random::state(), filler, 600);
    }
    let session = random::session_id();
    let verifier = random::pkce_verifier().expose().to_owned();
    c.bench_function("state: put, take, second take refused (10k live)", |b| {
        b.iter(|| {
            let key = &states[i % keys.len()];
            i += 1;
            let pending = PendingAuthorization {
                session: session.clone(),
                provider: "mock".into(),
                verifier: PkceVerifier::new(verifier.as_str()),
                nonce: None,
            };
            store.put_pending(key, pending, 600);
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
        RefreshToken::new("rt-AQBv7m2kP9xW4sN1jR8tY3uZ6cF0hL5gD2aS7eKAQBv7m2kP9xW4sN1jR8tY3uZ6c");
    c.bench_function("refresh handle: seal", |b| {
        b.iter(|| sealer.seal(black_box("mock"), black_box(&token), 1_800_000_000))
    });
    let handle = sealer.seal("mock", &token, 1_800_000_000);
    c.bench_function("refresh handle: open", |b| {
        b.iter(|| sealer.open(black_box(handle.expose())).expect("opens"))
    });
}

fn pkce(c: &mut Criterion) {
    c.bench_function("pkce: new verifier and S256 challenge", |b| {
        b.iter(|| s256_challenge(random::pkce_verifier().expose()))
    });
    c.bench_function("pkce: S256 challenge of a verifier", |b| {
        b.iter_batched(
            random::pkce_verifier,
            |v| s256_challenge(v.expose()),
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
