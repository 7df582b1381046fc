//! `store.cluster_nodes`: seed nodes of a Redis Cluster, comma-separated in the environment;
//! each mistake is one problem naming the setting.

use super::{
    ACME_PROVIDER, SEAL_KEY as KEY, acme_problems, assert_one_problem, config_dir, load, sources,
    validate,
};

const SEAL_KEY: (&str, &str) = ("BROKER__SECRETS__SEAL_KEY", KEY);

#[test]
fn cluster_nodes_from_the_environment_are_accepted() {
    let config = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let env = [
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "rediss://user:pw@ignored:6379"),
        (
            "BROKER__STORE__CLUSTER_NODES",
            "10.0.0.1:6379,10.0.0.2:6379,redis-2.example:7000",
        ),
    ];
    let validated = validate(load(&sources(config.path(), &env)), false);
    assert_eq!(
        validated.settings.store.cluster_nodes,
        ["10.0.0.1:6379", "10.0.0.2:6379", "redis-2.example:7000"]
    );
}

#[test]
fn a_cluster_node_that_is_not_host_port_is_named() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "redis://127.0.0.1"),
        ("BROKER__STORE__CLUSTER_NODES", "10.0.0.1:6379,10.0.0.2"),
    ]);
    assert_one_problem(&problems, &["store.cluster_nodes", "\"10.0.0.2\""]);
}

#[test]
fn cluster_nodes_without_a_redis_url_are_refused() {
    let problems = acme_problems(&[SEAL_KEY, ("BROKER__STORE__CLUSTER_NODES", "10.0.0.1:6379")]);
    assert_one_problem(&problems, &["store.cluster_nodes", "store.redis_url"]);
}

#[test]
fn cluster_nodes_with_sentinels_are_refused() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "redis://127.0.0.1"),
        ("BROKER__STORE__CLUSTER_NODES", "10.0.0.1:6379"),
        ("BROKER__STORE__SENTINELS", "10.0.0.9:26379"),
    ]);
    assert_one_problem(&problems, &["store.cluster_nodes", "store.sentinels"]);
}

#[test]
fn a_database_other_than_0_with_a_cluster_is_refused() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "redis://127.0.0.1/3"),
        ("BROKER__STORE__CLUSTER_NODES", "10.0.0.1:6379"),
    ]);
    assert_one_problem(&problems, &["store.redis_url", "database 0"]);
}
