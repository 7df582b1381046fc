//! How the store reaches Redis: one set-up path for every deployment (plain, TLS with a CA
//! file or the system roots and an optional client certificate, Sentinel, Cluster), so each
//! connection the store opens, including reconnects after a failover, is made the same way.

use super::redis_connection::RedisConnection;
use redis::PushInfo;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How long connecting, and each reply, may take before the store answers `unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Redis is and how to reach it: the URL (`redis://`, or `rediss://` for TLS, with user
/// and password), and for TLS the CA to trust (else the system's roots) and an optional client
/// certificate. Every connection the store makes is set up from this, in [`RedisTarget::client`].
#[derive(Clone)]
pub struct RedisTarget {
    url: String,
    tls_ca: String,
    tls_cert: String,
    tls_key: String,
    /// With Sentinel: where to ask for the master, and its name.
    sentinels: Vec<String>,
    sentinel_master: String,
    /// With Cluster: the seed nodes (`host:port`); the URL gives scheme and credentials.
    cluster_nodes: Vec<String>,
}

/// Opens connections to the Redis (or the Cluster) found by [`RedisTarget::connector`].
pub(super) enum Connector {
    Single(redis::Client),
    Cluster {
        /// One URL per seed node: scheme, credentials and RESP3 from `store.redis_url`.
        nodes: Vec<String>,
        certificates: Option<redis::TlsCertificates>,
    },
}

impl Connector {
    /// A new connection; with `pushes`, subscriptions on it deliver their messages there (and are
    /// made again after a reconnect, and in a Cluster on whichever node then owns the slot).
    pub(super) async fn open(
        &self,
        pushes: Option<UnboundedSender<PushInfo>>,
    ) -> redis::RedisResult<RedisConnection> {
        match self {
            Self::Single(client) => {
                let mut config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_min_delay(Duration::from_millis(100))
                    .set_max_delay(Duration::from_secs(5))
                    .set_number_of_retries(2);
                if let Some(pushes) = pushes {
                    config = config
                        .set_push_sender(pushes)
                        .set_automatic_resubscription();
                }
                let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
                Ok(RedisConnection::Single(manager))
            }
            Self::Cluster {
                nodes,
                certificates,
            } => {
                // Few, short retries: a request waits for a moved slot or a reconnect only as
                // long as a person waits for a sign-in link, then gets `unavailable`.
                let mut builder = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2)
                    .min_retry_wait(50)
                    .max_retry_wait(500);
                if let Some(certificates) = certificates {
                    builder = builder.certs(certificates.clone());
                }
                if let Some(pushes) = pushes {
                    builder = builder.push_sender(pushes);
                }
                let connection = builder.build()?.get_async_connection().await?;
                Ok(RedisConnection::Cluster(connection))
            }
        }
    }
}

impl RedisTarget {
    pub fn from_settings(url: &str, store: &crate::settings::StoreSettings) -> Self {
        Self {
            url: url.to_owned(),
            tls_ca: store.tls_ca.clone(),
            tls_cert: store.tls_cert.clone(),
            tls_key: store.tls_key.clone(),
            sentinels: store.sentinels.clone(),
            sentinel_master: store.sentinel_master.clone(),
            cluster_nodes: store.cluster_nodes.clone(),
        }
    }

    pub(super) fn is_cluster(&self) -> bool {
        !self.cluster_nodes.is_empty()
    }

    /// What opens connections now: to the URL's Redis, the master the sentinels name, or the
    /// Cluster's seed nodes.
    pub(super) async fn connector(&self) -> redis::RedisResult<Connector> {
        if !self.is_cluster() {
            return self.client().await.map(Connector::Single);
        }
        let nodes = self
            .cluster_nodes
            .iter()
            .map(|node| {
                let (host, port) = node.rsplit_once(':').unwrap_or((node, "6379"));
                let port = port.parse().map_err(|_| {
                    redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "store.cluster_nodes: not host:port",
                    ))
                })?;
                Ok(with_resp3(&with_host(&self.url, host, port)?))
            })
            .collect::<redis::RedisResult<Vec<_>>>()?;
        let certificates = if self.url.starts_with("rediss://") {
            Some(self.tls_certificates()?)
        } else {
            None
        };
        Ok(Connector::Cluster {
            nodes,
            certificates,
        })
    }

    pub(super) fn follows_sentinel(&self) -> bool {
        !self.sentinels.is_empty()
    }

    /// A client for the Redis to use now: the URL's, or with Sentinel the current master's
    /// (asked of the sentinels each time, so a reconnect after a failover finds the new one).
    async fn client(&self) -> redis::RedisResult<redis::Client> {
        if !self.follows_sentinel() {
            return self.client_for(&self.url);
        }
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|address| format!("redis://{address}/"))
            .collect();
        let mut sentinel = redis::sentinel::Sentinel::build(sentinels)?;
        let master = sentinel
            .async_master_for(&self.sentinel_master, None)
            .await?;
        let (host, port) = match master.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, port)
            | redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
            _ => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "the sentinels named a master that is not a TCP address",
                )));
            }
        };
        self.client_for(&with_host(&self.url, &host, port)?)
    }

    fn client_for(&self, url: &str) -> redis::RedisResult<redis::Client> {
        let url = with_resp3(url);
        if !url.starts_with("rediss://") {
            return redis::Client::open(url);
        }
        redis::Client::build_with_tls(url, self.tls_certificates()?)
    }

    /// The CA to trust (else the system's roots) and the client certificate, from their files.
    fn tls_certificates(&self) -> redis::RedisResult<redis::TlsCertificates> {
        let read = |path: &str| -> redis::RedisResult<Option<Vec<u8>>> {
            if path.is_empty() {
                return Ok(None);
            }
            std::fs::read(path).map(Some).map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "cannot read a store.tls_* file",
                    format!("{path}: {e}"),
                ))
            })
        };
        let client_tls = match (read(&self.tls_cert)?, read(&self.tls_key)?) {
            (Some(client_cert), Some(client_key)) => Some(redis::ClientTlsConfig {
                client_cert,
                client_key,
            }),
            _ => None,
        };
        Ok(redis::TlsCertificates {
            client_tls,
            root_cert: read(&self.tls_ca)?,
        })
    }
}

/// The kind, category and detail of a Redis error (a TLS failure says which certificate check
/// failed, which operators need), but never a detail that could echo the URL and its password.
pub(super) fn describe(e: &redis::RedisError) -> String {
    match e.detail() {
        Some(detail) if !detail.contains('@') && !detail.contains("redis") => {
            format!("{:?} ({}): {detail}", e.kind(), e.category())
        }
        _ => format!("{:?} ({})", e.kind(), e.category()),
    }
}

/// `url` with its host and port replaced (Sentinel names the master, Cluster its nodes; the URL
/// keeps scheme, credentials and database).
fn with_host(url: &str, host: &str, port: u16) -> redis::RedisResult<String> {
    let invalid = || {
        redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "store.redis_url does not parse",
        ))
    };
    let mut parsed = url::Url::parse(url).map_err(|_| invalid())?;
    parsed.set_host(Some(host)).map_err(|_| invalid())?;
    parsed.set_port(Some(port)).map_err(|_| invalid())?;
    Ok(parsed.into())
}

/// Subscriptions that survive reconnects need RESP3 push messages.
fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}
