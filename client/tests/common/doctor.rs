//! Running `hookhole doctor --json` and reading its checks.

use super::process::{hookhole, run};
use serde_json::Value;
use std::path::Path;

/// `hookhole doctor --json ARGS` run from `dir`: its exit code and checks.
pub async fn doctor(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut cmd = hookhole(dir);
    cmd.args(["doctor", "--json"]).args(args);
    let (code, stdout, stderr) = run(cmd).await;
    let checks = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\nstderr: {stderr}"))
        })
        .collect();
    (code, checks)
}

/// The first check named `name`.
pub fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:#?}"))
}

/// Asserts `name` failed saying `detail` and fixed by `fix`; returns it.
pub fn failed<'a>(checks: &'a [Value], name: &str, detail: &str, fix: &str) -> &'a Value {
    let found = check(checks, name);
    assert_eq!(found["verdict"], "fail", "{found}");
    let (said, fixed) = (
        found["detail"].as_str().unwrap(),
        found["fix"].as_str().unwrap(),
    );
    assert!(said.contains(detail), "{name}: {said:?} lacks {detail:?}");
    assert!(fixed.contains(fix), "{name}: fix {fixed:?} lacks {fix:?}");
    found
}

/// A private data dir inside `dir`.
pub fn data_dir(dir: &Path) -> String {
    let data = dir.join("state");
    hookhole_host::private_files::create_dir(&data).unwrap();
    data.display().to_string()
}
