//! Replicas over a Redis that speaks TLS only, as managed services run it: `rediss://` with an
//! ACL user and password, the CA from `store.tls_ca`, a client certificate for mutual TLS, and
//! a certificate from another CA refused.

use crate::helpers::cluster::Cluster;
use crate::helpers::processes::{Replica, http_status_within};
use crate::helpers::tls_redis::{self, TlsFiles};
use crate::helpers::{get, http_client, query_value};
use std::time::{Duration, Instant};
use url::Url;

fn tls_cluster(files: &TlsFiles, clients_need_certs: bool) -> Cluster {
    let mut cluster = Cluster::over(tls_redis::start(files, clients_need_certs), false);
    let ca = files.ca.to_str().unwrap().to_owned();
    cluster.env.insert("BROKER__STORE__TLS_CA".into(), ca);
    cluster
}

fn with_client_certificate(cluster: &mut Cluster, files: &TlsFiles) {
    for (key, path) in [
        ("BROKER__STORE__TLS_CERT", &files.client_cert),
        ("BROKER__STORE__TLS_KEY", &files.client_key),
    ] {
        cluster
            .env
            .insert(key.into(), path.to_str().unwrap().to_owned());
    }
}

/// A sign-in whose WebSocket is on `a` and whose link and redirect land on `b`.
async fn sign_in_across(cluster: &Cluster, a: &Replica, b: &Replica, code: &str) {
    let http = http_client();
    let mut ws = cluster.connect(a).await;
    let link = ws.begin("mock").await;
    let opened = get(&http, &crate::helpers::processes::on(b, &link)).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    let location = Url::parse(opened.header("location").unwrap()).unwrap();
    let state = query_value(&location, "state").unwrap();
    let url = format!("{}/complete/mock?code={code}&state={state}", b.base);
    assert_eq!(get(&http, &url).await.status, 200);
    assert_eq!(
        ws.expect("signedin").await["access_token"],
        format!("at-{code}")
    );
}

/// Whether `/readyz` stays 503 for `over` (a replica that cannot reach its store never is).
fn stays_unready(replica: &Replica, over: Duration) -> bool {
    let url = format!("{}/readyz", replica.base);
    let started = Instant::now();
    while started.elapsed() < over {
        if http_status_within(&url, Duration::from_millis(500)) == Some(200) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[actix_web::test]
async fn sign_ins_cross_two_replicas_over_tls_with_an_acl_user() {
    let files = TlsFiles::generate();
    let cluster = tls_cluster(&files, false);
    let (a, b) = (cluster.replica(), cluster.replica());
    sign_in_across(&cluster, &a, &b, "over-tls").await;
    sign_in_across(&cluster, &b, &a, "and-back").await;
}

#[actix_web::test]
async fn mutual_tls_works_with_the_client_certificate_and_not_without() {
    let files = TlsFiles::generate();
    let mut cluster = tls_cluster(&files, true);
    let without = Replica::spawn(&cluster.env);
    with_client_certificate(&mut cluster, &files);
    let (a, b) = (cluster.replica(), cluster.replica());
    sign_in_across(&cluster, &a, &b, "mutual").await;
    assert!(
        stays_unready(&without, Duration::from_secs(2)),
        "a replica without a client certificate became ready"
    );
}

#[test]
fn a_redis_certificate_from_another_ca_is_never_trusted() {
    let files = TlsFiles::generate();
    let mut cluster = tls_cluster(&files, false);
    let other = TlsFiles::generate();
    cluster.env.insert(
        "BROKER__STORE__TLS_CA".into(),
        other.ca.to_str().unwrap().to_owned(),
    );
    let replica = Replica::spawn(&cluster.env);
    assert!(
        stays_unready(&replica, Duration::from_secs(3)),
        "a replica trusting another CA became ready"
    );
}
