//! Bounded GETs of small JSON documents (OpenID Connect discovery and JWKS): a timeout on the
//! whole request, body included, a size cap, no redirects, so a slow or odd provider cannot
//! hold a worker or the start-up.

use serde::de::DeserializeOwned;
use std::time::Duration;

/// Metadata and key sets are a few KiB; a provider sending more is broken or hostile.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("did not answer in time")]
    Timeout,
    #[error("could not be reached")]
    Unreachable,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answered something that is not the expected JSON")]
    Malformed,
}

pub async fn get_json<T: DeserializeOwned>(
    http: &awc::Client,
    url: &str,
    timeout: Duration,
) -> Result<T, FetchError> {
    actix_rt::time::timeout(timeout, async {
        let mut response = http
            .get(url)
            .timeout(timeout)
            .insert_header(("Accept", "application/json"))
            .send()
            .await
            .map_err(|e| match e {
                awc::error::SendRequestError::Timeout => FetchError::Timeout,
                _ => FetchError::Unreachable,
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let body = response
            .body()
            .limit(MAX_DOCUMENT_BYTES)
            .await
            .map_err(|_| FetchError::Malformed)?;
        serde_json::from_slice(&body).map_err(|_| FetchError::Malformed)
    })
    .await
    .unwrap_or(Err(FetchError::Timeout))
}
