//! Several broker replicas sharing one Redis, the seal key, the provider and one public
//! address (a load balancer's, which the tests play by sending each request to a chosen
//! replica).

use super::SEAL_KEY;
use super::WsClient;
use super::mock_provider::MockProvider;
use super::processes::{RedisServer, Replica, free_port};
use std::collections::HashMap;

pub struct Cluster {
    pub redis: RedisServer,
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
        let mock = MockProvider::start();
        let public = format!("http://127.0.0.1:{}", free_port());
        let mut env = HashMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("BROKER__STORE__REDIS_URL", redis.url());
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
}
