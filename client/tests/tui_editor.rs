//! The terminal UI's `e` in a real terminal (tmux), with a script as
//! `$EDITOR`: the request is edited in a private file, a failed or
//! unchanged edit replays nothing and the status line says so, and the
//! log the UI writes instead of the screen is owner-only.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::tmux::{Tmux, dir_forwarding_to, public_url, tmux_available};
use common::*;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn e_edits_in_a_private_file_and_a_failed_or_unchanged_edit_replays_nothing() {
    if !tmux_available() {
        return;
    }
    let mut target = TestTarget::echo().await;
    let dir = dir_forwarding_to(&target.url(), "");
    // The editor does what the file `plan` says: fail after changing the
    // request, leave it as it is, or change the body (and note the modes
    // and the path of what it was given).
    let plan = dir.path().join("plan");
    let seen = dir.path().join("seen");
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\ncase $(cat {plan}) in\n\
             fail) echo more >> \"$1\"; exit 1 ;;\n\
             same) exit 0 ;;\n\
             edit) stat -c %a \"$(dirname \"$1\")\" \"$1\" > {seen}; echo \"$1\" >> {seen}\n\
                   sed -i 's/\"n\":1/\"n\":2/' \"$1\" ;;\n\
             esac\n",
            plan = plan.display(),
            seen = seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();

    let data = dir.path().join("data");
    let tmux = Tmux::new("editor");
    tmux.start_listener(
        dir.path(),
        &data,
        (160, 30),
        &[
            format!("EDITOR={}", editor.display()),
            format!("VISUAL={}", editor.display()),
            "NO_COLOR=1".into(),
        ],
    );

    let url = public_url(&data).await;
    assert_eq!(
        post(&format!("{url}/hooks"), b"{\"n\":1}").await.status,
        200
    );
    assert_eq!(target.next_request().await.body, b"{\"n\":1}");
    tmux.wait_for("/hooks").await;

    std::fs::write(&plan, "fail").unwrap();
    tmux.run(&["send-keys", "-t", "ui", "e"]);
    tmux.wait_for("exited with exit status: 1; nothing replayed")
        .await;
    std::fs::write(&plan, "same").unwrap();
    tmux.run(&["send-keys", "-t", "ui", "e"]);
    tmux.wait_for("the request was not changed; nothing replayed")
        .await;
    std::fs::write(&plan, "edit").unwrap();
    tmux.run(&["send-keys", "-t", "ui", "e"]);
    // The first request the target sees after the original is the edited
    // one: the failed and the unchanged edit sent nothing.
    assert_eq!(target.next_request().await.body, b"{\"n\":2}");

    let seen = std::fs::read_to_string(&seen).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..2], ["700", "600"], "{seen}");
    let edited = Path::new(lines[2]);
    assert!(!edited.parent().unwrap().exists(), "{seen}");

    let log = data.join("hookhole/hookhole.log");
    assert_eq!((mode(log.parent().unwrap()), mode(&log)), (0o700, 0o600));

    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;
}
