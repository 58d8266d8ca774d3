//! Every crate root's `//!` comment is a map of its modules: a reader
//! starts there, so a module missing from the map is a module nobody finds.
//! One test for the whole workspace; the roots are read at compile time.

/// The crate roots of the workspace, by path from the repository root.
const ROOTS: [(&str, &str); 5] = [
    ("shared/src/lib.rs", include_str!("../../shared/src/lib.rs")),
    ("host/src/lib.rs", include_str!("../../host/src/lib.rs")),
    ("relay/src/lib.rs", include_str!("../../relay/src/lib.rs")),
    ("client/src/lib.rs", include_str!("../src/lib.rs")),
    ("bench/src/main.rs", include_str!("../../bench/src/main.rs")),
];

/// The modules a root declares at its top level (`mod x;`, `pub mod x;`),
/// apart from its tests.
fn declared_modules(root: &str) -> Vec<&str> {
    root.lines()
        .filter_map(|line| {
            let line = line.strip_prefix("pub ").unwrap_or(line);
            line.strip_prefix("mod ")?.strip_suffix(';')
        })
        .filter(|name| *name != "tests")
        .collect()
}

/// Each module is named in the map as a link, [`` `name` ``], or as an
/// entry, `` `name`: `` (private modules cannot be linked): a mention such
/// as "`history`, `show`" names a command, not the module.
fn unmapped_modules(root: &str) -> Vec<&str> {
    let map: String = root
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    declared_modules(root)
        .into_iter()
        .filter(|name| {
            !map.contains(&format!("[`{name}`]")) && !map.contains(&format!("`{name}`:"))
        })
        .collect()
}

#[test]
fn every_crate_root_maps_all_its_modules() {
    let mut missing = Vec::new();
    for (path, root) in ROOTS {
        assert!(
            !declared_modules(root).is_empty(),
            "{path} declares no modules: the test reads the wrong file"
        );
        for name in unmapped_modules(root) {
            missing.push(format!("{path}: `{name}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "modules missing from their crate root's //! map:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_module_left_out_of_the_map_is_found() {
    let root = "//! - [`linked`]: here; `entry`: there.\n\
                //! - `cmd`: a command, not `forgotten`, `mentioned`.\n\n\
                pub mod linked;\nmod entry;\nmod forgotten;\nmod mentioned;\n\
                #[cfg(test)]\nmod tests;\n";
    assert_eq!(
        declared_modules(root),
        ["linked", "entry", "forgotten", "mentioned"]
    );
    assert_eq!(unmapped_modules(root), ["forgotten", "mentioned"]);
}
