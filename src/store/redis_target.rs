//! How the store reaches Redis: one set-up path for every deployment (plain, TLS with a CA
//! file or the system roots and an optional client certificate, Sentinel), so each connection
//! the store opens, including reconnects after a failover, is made the same way.

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
        }
    }

    pub(super) fn follows_sentinel(&self) -> bool {
        !self.sentinels.is_empty()
    }

    /// A client for the Redis to use now: the URL's, or with Sentinel the current master's
    /// (asked of the sentinels each time, so a reconnect after a failover finds the new one).
    pub(super) async fn client(&self) -> redis::RedisResult<redis::Client> {
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
        redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls,
                root_cert: read(&self.tls_ca)?,
            },
        )
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

/// `url` with its host and port replaced (Sentinel names the master; the URL keeps scheme,
/// credentials and database).
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
