//! `hookhole providers`: what we verify, from the preset data itself. The
//! docs/providers.md is this module's Markdown output (a test keeps them equal).

use hookhole_shared::signature::preset::{Confidence, Custom, Direction, Preset};

#[derive(Debug, Clone, clap::Args)]
pub struct ProvidersArgs {
    /// Show every field of one provider's schemes
    pub name: Option<String>,
    /// Print the presets as JSON (the same schema as user presets)
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the table as Markdown (as in docs/providers.md)
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(args: &ProvidersArgs, config_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let registry = crate::verification::registry(config_file)?;
    let presets: Vec<&Preset> = match &args.name {
        Some(name) => {
            let found: Vec<&Preset> = registry
                .presets()
                .iter()
                .filter(|p| &p.id == name)
                .collect();
            if found.is_empty() {
                anyhow::bail!(hookhole_host::settings::UsageError(format!(
                    "unknown provider {name:?}; `hookhole providers` lists them"
                )));
            }
            found
        }
        None => registry.presets().iter().collect(),
    };
    if args.json || args.name.is_some() {
        crate::output::json(&presets, true)?;
    } else if args.markdown {
        crate::output::text(&markdown_table(&presets));
    } else {
        crate::output::text(&text_table(&presets));
    }
    Ok(())
}

fn header(p: &Preset) -> String {
    if p.facts_only {
        return "does not sign (event facts only)".to_string();
    }
    match p.custom.and_then(Custom::body_field) {
        Some(field) => format!("in the body (`{field}`)"),
        None if p.header.is_empty() => "`header=` you choose".to_string(),
        None => p.header.clone(),
    }
}

fn window(p: &Preset) -> String {
    // A scheme written as code checks its own window; the others, their
    // timestamp rule's.
    let window = match p.custom.and_then(Custom::window) {
        Some((seconds, direction)) => Some((Some(seconds), direction)),
        None => p.timestamp.as_ref().map(|t| (t.tolerance_s, t.direction)),
    };
    match window {
        None => "none".to_string(),
        Some((None, _)) => "signed, no expiry".to_string(),
        Some((Some(s), Direction::Both)) => format!("±{s} s"),
        Some((Some(s), Direction::PastOnly)) => format!("{s} s, past only"),
    }
}

fn name(p: &Preset) -> String {
    match p.confidence {
        Confidence::Low => format!("{} (unverified)", p.name),
        _ => p.name.clone(),
    }
}

fn rows(presets: &[&Preset]) -> Vec<[String; 6]> {
    presets
        .iter()
        .map(|p| {
            [
                p.id.clone(),
                name(p),
                header(p),
                if p.facts_only {
                    "none".to_string()
                } else {
                    p.algorithm.label().to_string()
                },
                window(p),
                p.secret_hint.clone(),
            ]
        })
        .collect()
}

const COLUMNS: [&str; 6] = [
    "provider",
    "scheme",
    "signature header",
    "algorithm",
    "timestamp window",
    "secret to pass",
];

pub fn markdown_table(presets: &[&Preset]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        COLUMNS.join(" | "),
        "---|".repeat(COLUMNS.len())
    );
    for row in rows(presets) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("`{c}`")
                } else {
                    c.replace('|', "\\|")
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

fn text_table(presets: &[&Preset]) -> String {
    let mut rows = rows(presets);
    for (row, p) in rows.iter_mut().zip(presets) {
        if p.confidence == Confidence::Low {
            row[0].push_str(" (unverified)");
        }
    }
    let shown = [0usize, 2, 3, 4, 5];
    let widths: Vec<usize> = shown
        .iter()
        .map(|&i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([COLUMNS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(n, (c, w))| {
                if n + 1 == cells.len() {
                    c.to_string()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(shown.iter().map(|&i| COLUMNS[i]).collect());
    for row in &rows {
        out.push_str(&line(shown.iter().map(|&i| row[i].as_str()).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::signature::Registry;

    /// docs/providers.md is exactly what `--markdown` prints.
    /// After changing presets, run `hookhole providers --markdown` and paste
    /// it between the markers.
    #[test]
    fn readme_table_matches_the_preset_data() {
        let readme = include_str!("../../docs/providers.md");
        let start = readme
            .find("<!-- providers:start -->\n")
            .expect("start marker")
            + 25;
        let end = readme.find("<!-- providers:end -->").expect("end marker");
        let registry = Registry::builtin();
        let presets: Vec<&Preset> = registry.presets().iter().collect();
        assert_eq!(&readme[start..end], markdown_table(&presets));
    }

    #[test]
    fn every_preset_is_listed() {
        let registry = Registry::builtin();
        let presets: Vec<&Preset> = registry.presets().iter().collect();
        let text = text_table(&presets);
        assert_eq!(text.lines().count(), presets.len() + 1);
        for p in &presets {
            assert!(text.contains(&p.id), "{}", p.id);
        }
        assert!(
            markdown_table(&presets).contains("(unverified)"),
            "low-confidence presets are marked"
        );
        assert!(
            text.contains("(unverified)"),
            "low-confidence presets are marked"
        );
    }
}
