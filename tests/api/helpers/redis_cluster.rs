//! A real Redis Cluster on loopback: `redis-server --cluster-enabled yes` nodes joined by
//! `redis-cli --cluster create`, each node killed when the fixture drops.

use super::processes::{Outcome, RedisServer, free_port, run, wait_until};
use std::process::Command;
use std::time::Duration;

pub struct RedisCluster {
    /// The masters first, then their replicas (as `redis-cli --cluster create` assigns them).
    pub nodes: Vec<(u16, RedisServer)>,
}

impl RedisCluster {
    /// `masters` masters sharing the 16384 slots, each with `replicas` replicas; waits
    /// (bounded) until every node reports `cluster_state:ok` and knows every other node.
    pub fn start(masters: usize, replicas: usize) -> RedisCluster {
        let count = masters * (1 + replicas);
        let nodes: Vec<(u16, RedisServer)> = (0..count)
            .map(|_| {
                let port = free_port();
                let server =
                    RedisServer::start_with(port, format!("redis://127.0.0.1:{port}/"), |dir| {
                        vec![
                            "--port".into(),
                            port.to_string(),
                            "--cluster-enabled".into(),
                            "yes".into(),
                            "--cluster-config-file".into(),
                            dir.join("nodes.conf").to_str().unwrap().into(),
                            // A dead master is failed over after 2 s, not the default 15.
                            "--cluster-node-timeout".into(),
                            "2000".into(),
                        ]
                    });
                (port, server)
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for (port, _) in &nodes {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let created = run(create, Duration::from_secs(60));
        assert_eq!(created.code(), Some(0), "{}", created.describe());
        let cluster = RedisCluster { nodes };
        wait_until("the Redis Cluster is formed", || {
            cluster.nodes.iter().all(|(port, _)| {
                let info = cluster.cli(*port, &["cluster", "info"]).stdout;
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{count}"))
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
        command.args(["-p", &port.to_string()]).args(args);
        run(command, Duration::from_secs(10))
    }

    /// The same command on every node, its replies one per node.
    pub fn on_every_node(&self, args: &[&str]) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(port, _)| self.cli(*port, args).stdout)
            .collect()
    }

    /// The node currently serving `key`'s slot as master.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot: u16 = self
            .cli(self.nodes[0].0, &["cluster", "keyslot", key])
            .stdout
            .trim()
            .parse()
            .unwrap();
        // `CLUSTER SHARDS` would be tidier; `CLUSTER NODES` exists on every Redis 7.0.
        let nodes = self.cli(self.nodes[0].0, &["cluster", "nodes"]).stdout;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                match (low.parse::<u16>(), high.parse::<u16>()) {
                    (Ok(low), Ok(high)) => (low..=high).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                let address = fields[1].split('@').next().unwrap();
                return address.rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        panic!("no master serves slot {slot}:\n{nodes}");
    }

    pub fn node(&self, port: u16) -> &RedisServer {
        &self.nodes.iter().find(|(p, _)| *p == port).unwrap().1
    }

    /// Kills the node on `port` (SIGKILL: no goodbye to the cluster).
    pub fn kill(&mut self, port: u16) {
        self.nodes.retain(|(p, _)| *p != port);
    }
}
