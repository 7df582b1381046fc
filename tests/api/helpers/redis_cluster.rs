//! A real Redis Cluster on loopback: `redis-server --cluster-enabled yes` nodes joined by
//! `redis-cli --cluster create`, each node killed when the fixture drops.

use super::processes::{Outcome, RedisServer, free_port, run, wait_until};
use super::tls_redis::{self, PASSWORD, TlsFiles, USER};
use std::process::Command;
use std::time::Duration;

pub struct RedisCluster {
    /// The masters first, then their replicas (as `redis-cli --cluster create` assigns them).
    pub nodes: Vec<(u16, RedisServer)>,
    /// What `redis-cli` needs besides the port (TLS files, the ACL user).
    cli_args: Vec<String>,
}

impl RedisCluster {
    /// `masters` masters sharing the 16384 slots, each with `replicas` replicas; waits
    /// (bounded) until every node reports `cluster_state:ok` and knows every other node.
    pub fn start(masters: usize, replicas: usize) -> RedisCluster {
        Self::start_with(masters, replicas, Vec::new(), |port| {
            vec!["--port".into(), port.to_string()]
        })
    }

    /// Three masters over TLS only (the cluster bus too), with the ACL user of
    /// [`tls_redis`]; no client certificate asked.
    pub fn start_tls(files: &TlsFiles) -> RedisCluster {
        let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
        let cli = vec![
            "--tls".into(),
            "--cacert".into(),
            path(&files.ca),
            "--user".into(),
            USER.into(),
            "--pass".into(),
            PASSWORD.into(),
        ];
        Self::start_with(3, 0, cli, |port| {
            let mut args = tls_redis::server_args(files, port, false);
            args.extend(["--tls-cluster".into(), "yes".into()]);
            args
        })
    }

    fn start_with(
        masters: usize,
        replicas: usize,
        cli_args: Vec<String>,
        listen: impl Fn(u16) -> Vec<String>,
    ) -> RedisCluster {
        let count = masters * (1 + replicas);
        let nodes: Vec<(u16, RedisServer)> = (0..count)
            .map(|_| {
                let port = free_port();
                // The cluster bus's port is given too: by default it is port + 10000, which
                // redis-server refuses for ports above 55535 (a quarter of the ephemeral range).
                let bus = std::iter::repeat_with(free_port)
                    .find(|bus| *bus != port)
                    .expect("a second free port");
                let server =
                    RedisServer::start_with(port, format!("redis://127.0.0.1:{port}/"), |dir| {
                        let mut args = listen(port);
                        args.extend([
                            "--cluster-enabled".into(),
                            "yes".into(),
                            "--cluster-config-file".into(),
                            dir.join("nodes.conf").to_str().unwrap().into(),
                            "--cluster-port".into(),
                            bus.to_string(),
                            // A dead master is failed over after 2 s, not the default 15.
                            "--cluster-node-timeout".into(),
                            "2000".into(),
                        ]);
                        args
                    });
                (port, server)
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.args(&cli_args).arg("--cluster").arg("create");
        for (port, _) in &nodes {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let created = run(create, Duration::from_secs(60));
        assert_eq!(created.code(), Some(0), "{}", created.describe());
        let cluster = RedisCluster { nodes, cli_args };
        wait_until("the Redis Cluster is formed", || {
            cluster.nodes.iter().all(|(port, _)| {
                let info = cluster.cli(*port, &["cluster", "info"]).stdout;
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{count}"))
            })
        });
        // A replica is listed at once but copies its master's data a moment later; until then
        // no write could survive a failover (and the broker's WAIT would time out).
        wait_until("every replica is in sync", || {
            cluster.nodes.iter().take(masters).all(|(port, _)| {
                let info = cluster.cli(*port, &["info", "replication"]).stdout;
                info.contains(&format!("connected_slaves:{replicas}"))
                    && info.matches("state=online").count() == replicas
            })
        });
        cluster
    }

    /// The seed nodes as `store.cluster_nodes` takes them in the environment.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `redis-cli -p PORT ARGS...`, bounded.
    pub fn cli(&self, port: u16, args: &[&str]) -> Outcome {
        let mut command = Command::new("redis-cli");
        command
            .args(&self.cli_args)
            .args(["-p", &port.to_string()])
            .args(args);
        run(command, Duration::from_secs(10))
    }

    /// The same command on every node, its replies one per node.
    pub fn on_every_node(&self, args: &[&str]) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(port, _)| self.cli(*port, args).stdout)
            .collect()
    }

    pub fn node(&self, port: u16) -> &RedisServer {
        &self.nodes.iter().find(|(p, _)| *p == port).unwrap().1
    }
}
