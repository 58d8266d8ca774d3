//! The built-in table's event facts as a whole: who has a type and an id
//! (a regression drops a name from these lists and fails), and the rules
//! the data keeps.

use super::*;
use crate::signature::{Status, preset, verify};
use crate::webhook;
use std::collections::BTreeSet;

/// Providers whose deliveries say both what happened and which event it
/// is, in the built-in table. Every high-confidence provider (of the table
/// and of the catalogue) is here or in [`EXPLAINED_GAPS`].
const TYPE_AND_ID: [&str; 31] = [
    "adyen",
    "aftership",
    "box",
    "circleci",
    "clickup",
    "coinbase-commerce",
    "generic",
    "github",
    "gitlab",
    "intercom",
    "linear",
    "mailgun",
    "malomo",
    "maple",
    "mux",
    "orb",
    "paddle",
    "plivo",
    "razorpay",
    "sanity",
    "sendgrid",
    "shopify",
    "slack",
    "square",
    "standard-webhooks",
    "stripe",
    "svix",
    "twilio",
    "twitch",
    "workos",
    "worldline",
];

/// High-confidence providers without a type and an id: their documentation
/// gives none that a header, a JSON field, a form field or a join of them
/// can hold, or the table has no preset for them (a signature only code
/// can check). docs/events.md says why for each.
const EXPLAINED_GAPS: [&str; 15] = [
    "autodesk",
    "bolt",
    "buildkite",
    "castle",
    "clearbit",
    "contentful",
    "convoy",
    "discord",
    "hubspot",
    "hygraph",
    "modern-treasury",
    "pusher",
    "signal-sciences",
    "trendmicro-conformity",
    "zoom",
];

/// Of the catalogue's 42 high-confidence providers, this many have a type
/// and an id.
const CATALOGUE_HIGH_WITH_TYPE_AND_ID: usize = 27;

fn ids_where(test: impl Fn(&webhook::EventRules) -> bool) -> BTreeSet<String> {
    Registry::builtin()
        .presets()
        .iter()
        .filter(|p| p.events.as_ref().is_some_and(&test))
        .map(|p| p.id.clone())
        .collect()
}

#[test]
fn the_providers_with_a_type_and_an_id_are_counted() {
    let both = ids_where(|e| e.event_type.is_some() && e.id.is_some());
    let expected: BTreeSet<String> = TYPE_AND_ID.iter().map(|s| s.to_string()).collect();
    assert_eq!(both, expected);
    for seed in [
        "maple", "malomo", "generic", "stripe", "github", "shopify", "slack",
    ] {
        assert!(both.contains(seed), "{seed}");
    }
    for seed in ["standard-webhooks", "svix"] {
        assert!(both.contains(seed), "{seed}");
    }
    // Maestra sends no type of its own: its id is the seed's contract.
    assert!(ids_where(|e| e.id.is_some()).contains("maestra"));
}

/// The ids the shared provider catalogue marks high confidence.
fn catalogue_high() -> BTreeSet<String> {
    let catalogue: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/provider-catalogue.json"))
            .expect("the catalogue is JSON");
    catalogue
        .as_array()
        .expect("the catalogue is a list")
        .iter()
        .filter(|p| p["confidence"] == "high")
        .map(|p| p["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Issue 19: every provider marked high confidence in the catalogue (and
/// in the table) has a type and an id, or an explained gap; the lists are
/// exact, so a provider that gains facts must leave the gaps.
#[test]
fn every_high_confidence_provider_has_facts_or_an_explained_gap() {
    let both = ids_where(|e| e.event_type.is_some() && e.id.is_some());
    let gaps: BTreeSet<String> = EXPLAINED_GAPS.iter().map(|s| s.to_string()).collect();
    assert!(both.is_disjoint(&gaps), "{:?}", both.intersection(&gaps));
    let catalogue = catalogue_high();
    assert_eq!(catalogue.len(), 42);
    let with_facts: BTreeSet<&String> = catalogue.iter().filter(|id| both.contains(*id)).collect();
    let without: BTreeSet<String> = catalogue
        .iter()
        .filter(|id| !both.contains(*id))
        .cloned()
        .collect();
    assert_eq!(with_facts.len(), CATALOGUE_HIGH_WITH_TYPE_AND_ID);
    // The table's own high-confidence presets (Adyen is high there, medium
    // in the catalogue) have facts or a gap too.
    let table_high: BTreeSet<String> = Registry::builtin()
        .presets()
        .iter()
        .filter(|p| p.confidence == preset::Confidence::High)
        .map(|p| p.id.clone())
        .collect();
    for id in &table_high {
        assert!(
            both.contains(id) || gaps.contains(id),
            "{id} is high-confidence: give it events or explain its gap"
        );
    }
    let table_gaps: BTreeSet<String> = table_high.difference(&both).cloned().collect();
    let all_gaps: BTreeSet<String> = without.union(&table_gaps).cloned().collect();
    assert_eq!(all_gaps, gaps);
    let docs = include_str!("../../../docs/events.md");
    let explained = docs
        .split("### Who has no type or no id, and why")
        .nth(1)
        .expect("docs/events.md explains the gaps");
    for id in EXPLAINED_GAPS {
        assert!(
            explained.contains(&format!("`{id}`")),
            "docs/events.md explains {id}"
        );
    }
    assert!(
        explained.contains(&format!(
            "{CATALOGUE_HIGH_WITH_TYPE_AND_ID} of the catalogue's 42"
        )),
        "docs/events.md gives the count"
    );
}

/// The deadline and retries are the provider's: they are written once, on
/// its first preset with rules, which `event_rules` and `late` read, so
/// no variant can contradict them. Every provider with facts cites them.
#[test]
fn deadlines_and_retries_live_on_the_first_preset_with_rules() {
    let registry = Registry::builtin();
    let mut seen = BTreeSet::new();
    for preset in registry.presets() {
        let Some(rules) = &preset.events else {
            continue;
        };
        if seen.insert(preset.id.clone()) {
            assert!(rules.source.is_some(), "{} cites its facts", preset.id);
            assert!(
                registry.event_rules(&preset.id) == Some(rules),
                "{}",
                preset.id
            );
        } else {
            assert!(
                rules.deadline_ms.is_none() && rules.retries.is_none(),
                "{} {:?}: the provider's deadline and retries belong on its first preset",
                preset.id,
                preset.variant
            );
        }
    }
    assert!(seen.len() >= 41, "{}", seen.len());
}

/// A sender that does not sign is known by id, never detected, and
/// refuses a secret with a reason.
#[test]
fn a_facts_only_preset_is_never_a_signature_candidate() {
    let registry = Registry::builtin();
    let maestra = registry
        .presets()
        .iter()
        .find(|p| p.id == "maestra")
        .expect("maestra is in the table");
    assert!(maestra.facts_only && maestra.events.is_some());
    let headers = [crate::headers::Header::new("x-any", "1")];
    let request = Request {
        method: "PUT",
        url: "https://x.test/",
        headers: &headers,
        body: b"{}",
    };
    let verdict = verify(&registry, &request, &[], 0);
    assert_eq!(verdict.status, Status::Unsigned);
    assert!(verdict.candidates.is_empty());
    let err = maestra
        .with_params(&Default::default())
        .expect_err("no secret for an unsigned sender");
    assert!(err.contains("does not sign"), "{err}");
    // A facts-only preset needs facts and no signature of its own.
    let bad = |extra: &str| {
        preset::parse_table(&format!(
            r#"[{{"id":"acme","name":"Acme","secret_hint":"none","facts_only":true{extra}}}]"#
        ))
        .unwrap_err()
        .to_string()
    };
    assert!(bad("").contains("facts_only needs an events object"));
    assert!(bad(r#","header":"X-Sig","events":{"id":"body:/id"}"#).contains("does not sign"));
}

/// The table of docs/events.md, from the data: one row per provider, the
/// sources of every preset of it, the deadline and retries of its first.
fn events_table() -> String {
    use webhook::FieldSource;
    let registry = Registry::builtin();
    let mut out = String::from(
        "| provider | event type | event id | attempt | deadline | retries | source |\n|---|---|---|---|---|---|---|\n",
    );
    let mut done = BTreeSet::new();
    for preset in registry.presets() {
        if preset.events.is_none() || !done.insert(preset.id.clone()) {
            continue;
        }
        let all: Vec<&webhook::EventRules> = registry
            .presets()
            .iter()
            .filter(|p| p.id == preset.id)
            .filter_map(|p| p.events.as_ref())
            .collect();
        let cell = |pick: &dyn Fn(&webhook::EventRules) -> Option<String>| {
            let mut seen: Vec<String> = Vec::new();
            for rules in &all {
                if let Some(text) = pick(rules).filter(|t| !seen.contains(t)) {
                    seen.push(text);
                }
            }
            if seen.is_empty() {
                "—".to_string()
            } else {
                seen.join(" or ")
            }
        };
        let source = |s: &Option<FieldSource>| s.as_ref().map(|s| format!("`{s}`"));
        let kind = cell(&|r| {
            source(&r.event_type).map(|t| match source(&r.type_detail) {
                Some(d) => format!("{t} + {d}"),
                None => t,
            })
        });
        let rules = registry.event_rules(&preset.id).expect("has rules");
        let row = [
            format!("`{}`", preset.id),
            kind,
            cell(&|r| {
                r.id.as_ref().map(|id| {
                    let parts: Vec<String> = id.parts().iter().map(|p| format!("`{p}`")).collect();
                    parts.join(" : ")
                })
            }),
            cell(&|r| source(&r.attempt)),
            rules
                .deadline_ms
                .map(crate::webhook::describe_deadline)
                .unwrap_or_else(|| "—".to_string()),
            rules
                .retries
                .as_ref()
                .map(webhook::RetryPolicy::describe)
                .unwrap_or_else(|| "—".to_string()),
            rules.source.clone().unwrap_or_default(),
        ];
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// docs/events.md's table is exactly the data. After changing the
/// `events` of a preset, run the ignored `print_events_table` test
/// (`cargo test -p hookhole-shared --lib print_events_table -- --ignored
/// --nocapture`) and paste its output between the markers.
#[test]
fn the_docs_table_matches_the_data() {
    let docs = include_str!("../../../docs/events.md");
    let start = docs.find("<!-- events:start -->\n").expect("start marker")
        + "<!-- events:start -->\n".len();
    let end = docs.find("<!-- events:end -->").expect("end marker");
    assert_eq!(&docs[start..end], events_table());
}

#[test]
#[ignore = "prints the table of docs/events.md"]
fn print_events_table() {
    print!("{}", events_table());
}
