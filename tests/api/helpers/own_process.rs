//! A test that needs its process to itself.
//!
//! The integration tests are one binary, and so one process running them on parallel threads:
//! what is global to a process is shared by every test running beside it. Before, each area was
//! a binary of its own, and its process held only that area's tests. The Prometheus recorder is
//! such a global (`telemetry::metrics_handle` installs one per process): a test that asserts an
//! exact change in a series that other tests move too (`rejected_total{reason="bad_ticket"}`)
//! runs again in a child process of this binary, alone there.

use super::processes::run;
use std::process::Command;
use std::time::Duration;

/// Set in the child to the test it runs.
const ALONE: &str = "OAUTH_BROKER_TEST_ALONE";

/// Bound on the child's whole run; the test's own waits are bounded far below it.
const CHILD_WAIT: Duration = Duration::from_secs(120);

/// `path` is the test's `module_path!()` and name. In the child, running only that test, this
/// returns `false`: the test goes on. Anywhere else it runs the test in such a child, fails
/// (with the child's output) unless the child ran it and it passed, and returns `true`: the
/// caller returns at once.
pub fn ran_in_own_process(path: &str) -> bool {
    // The filter names a test without the crate (`api::`).
    let test = path.split_once("::").map_or(path, |(_, rest)| rest);
    if std::env::var(ALONE).is_ok_and(|alone| alone == test) {
        return false;
    }
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([test, "--exact", "--test-threads=1"])
        .env(ALONE, test);
    let outcome = run(command, CHILD_WAIT);
    // Indented, so that a runner counting `test result:` lines counts only this process's.
    let said: String = outcome
        .both()
        .lines()
        .map(|l| format!("    | {l}\n"))
        .collect();
    assert!(
        outcome.status.success(),
        "{test} alone: {}:\n{said}",
        outcome.status
    );
    assert!(
        outcome.stdout.contains("test result: ok. 1 passed"),
        "{test} alone: the child ran no such test:\n{said}"
    );
    true
}
