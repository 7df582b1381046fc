//! Several broker replicas sharing one Redis (or a Redis Cluster), the seal key, the provider
//! and one public address (a load balancer's, which the tests play by sending each request to a
//! chosen replica).

use super::SEAL_KEY;
use super::mock_provider::MockProvider;
use super::processes::{RedisServer, Replica, free_port, on};
use super::redis_cluster::RedisCluster;
use super::{WsClient, get, http_client, query_value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use url::Url;

pub struct Cluster<R = RedisServer> {
    pub redis: R,
    pub mock: MockProvider,
    pub public: String,
    /// Every replica's environment; a test may add to it before starting replicas.
    pub env: HashMap<String, String>,
}

impl Cluster {
    pub fn new(confirm_code: bool) -> Cluster {
        Self::over(RedisServer::start(), confirm_code)
    }

    /// Replicas over a Redis the test started its own way (TLS, an ACL user).
    pub fn over(redis: RedisServer, confirm_code: bool) -> Cluster {
        let url = redis.url();
        Cluster::serving(redis, url, confirm_code)
    }
}

impl Cluster<RedisCluster> {
    /// Replicas over a Redis Cluster, found through its seed nodes.
    pub fn over_cluster(redis: RedisCluster) -> Cluster<RedisCluster> {
        Self::over_cluster_at(redis, "redis://127.0.0.1")
    }

    /// Over a Redis Cluster reached as `redis_url` says (scheme and credentials).
    pub fn over_cluster_at(redis: RedisCluster, redis_url: &str) -> Cluster<RedisCluster> {
        let seeds = redis.seeds();
        let mut cluster = Cluster::serving(redis, redis_url.into(), false);
        cluster
            .env
            .insert("BROKER__STORE__CLUSTER_NODES".into(), seeds);
        cluster
    }
}

impl<R> Cluster<R> {
    fn serving(redis: R, redis_url: String, confirm_code: bool) -> Cluster<R> {
        let mock = MockProvider::start();
        let public = format!("http://127.0.0.1:{}", free_port());
        let mut env = HashMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("BROKER__STORE__REDIS_URL", redis_url);
        set("BROKER__SECRETS__SEAL_KEY", SEAL_KEY.into());
        set("BROKER__SERVER__PUBLIC_URL", public.clone());
        set("BROKER__SERVER__CALLBACK_URL", public.clone());
        set("BROKER__SIGNIN__CONFIRM_CODE", confirm_code.to_string());
        set("BROKER__PROVIDERS__MOCK__TIMEOUT_SECS", "2".into());
        env.extend(mock.broker_env());
        Cluster {
            redis,
            mock,
            public,
            env,
        }
    }

    /// Hundreds of sign-ins and their retries come from one test address: no per-client
    /// limits.
    pub fn without_client_limits(&mut self) {
        for limit in [
            "SIGNIN_LINKS_PER_SESSION",
            "SIGNIN_LINKS_PER_CLIENT",
            "REQUESTS_PER_CLIENT",
            "CONNECTIONS_PER_CLIENT",
        ] {
            self.env
                .insert(format!("BROKER__LIMITS__{limit}"), "0".into());
        }
    }

    pub fn replica(&self) -> Replica {
        Replica::start(&self.env)
    }

    /// A replica with a metrics listener of its own; also the URL of its `/metrics`.
    pub fn replica_with_metrics(&self) -> (Replica, String) {
        let port = free_port();
        let mut env = self.env.clone();
        env.insert(
            "BROKER__SERVER__METRICS_BIND".into(),
            format!("127.0.0.1:{port}"),
        );
        (
            Replica::start(&env),
            format!("http://127.0.0.1:{port}/metrics"),
        )
    }

    pub async fn connect(&self, replica: &Replica) -> WsClient {
        WsClient::connect(&replica.ws_url(), Some(&self.public)).await
    }

    pub async fn resume(&self, replica: &Replica, secret: &str) -> WsClient {
        WsClient::resume(&replica.ws_url(), Some(&self.public), secret).await
    }

    /// `count` sign-ins at once (one every `spacing_ms`), each with its own code `{prefix}{i}`,
    /// each retried while the store answers `unavailable` and each checked to end with its own
    /// token in its own session; `alternate`: every other one starts on `b` and finishes on `a`.
    /// `meanwhile` runs beside them (a failure to inject). Returns each sign-in's tries.
    pub async fn concurrent_sign_ins(
        &self,
        (a, b): (&Replica, &Replica),
        (count, spacing_ms): (u64, u64),
        prefix: &str,
        alternate: bool,
        meanwhile: impl std::future::Future<Output = ()>,
    ) -> Vec<u32> {
        let sign_ins = (0..count).map(|i| async move {
            actix_rt::time::sleep(Duration::from_millis(spacing_ms * i)).await;
            let code = format!("{prefix}{i}");
            let (ws_on, finish_on) = if alternate && i % 2 == 1 {
                (b, a)
            } else {
                (a, b)
            };
            let (token, tries) = self.sign_in_with_retries(ws_on, finish_on, &code).await;
            assert_eq!(
                token,
                format!("at-{code}"),
                "a token reached the wrong session"
            );
            tries
        });
        let (tries, ()) =
            futures_util::future::join(futures_util::future::join_all(sign_ins), meanwhile).await;
        tries
    }

    /// One sign-in (WebSocket on `a`, link and redirect on `b`), retried while the store
    /// answers `unavailable`; returns the token the session received and how many tries it
    /// took.
    pub async fn sign_in_with_retries(
        &self,
        a: &Replica,
        b: &Replica,
        code: &str,
    ) -> (String, u32) {
        let http = http_client();
        let deadline = Instant::now() + Duration::from_secs(25);
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(Instant::now() < deadline, "sign-in {code} never succeeded");
            let Some(mut ws) = WsClient::try_connect(&a.ws_url(), Some(&self.public)).await else {
                actix_rt::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            ws.send_json(&serde_json::json!({"type": "begin", "provider": "mock"}))
                .await;
            let answer = ws.recv().await;
            if answer["type"] != "signin" {
                assert_eq!(answer["code"], "unavailable", "{code}: {answer}");
                actix_rt::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let link = answer["url"].as_str().unwrap();
            let opened = get(&http, &on(b, link)).await;
            if opened.status == 503 {
                actix_rt::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            assert_eq!(opened.status, 303, "{code}: {}", opened.body);
            let location = Url::parse(opened.header("location").unwrap()).unwrap();
            let state = query_value(&location, "state").unwrap();
            let url = format!("{}/complete/mock?code={code}&state={state}", b.base);
            let page = get(&http, &url).await;
            if page.status == 503 {
                actix_rt::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            assert_eq!(page.status, 200, "{code}: {}", page.body);
            let signedin = ws.expect("signedin").await;
            return (signedin["access_token"].as_str().unwrap().to_owned(), tries);
        }
    }
}
