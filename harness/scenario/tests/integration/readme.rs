//! `scenarios/README.md` teaches the language: its snippets must be valid TOML, and its first,
//! complete scenario must parse.

use std::path::Path;

const README: &str = include_str!("../../../../scenarios/README.md");

fn toml_blocks() -> Vec<&'static str> {
    README
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap())
        .collect()
}

#[test]
fn every_toml_snippet_in_the_readme_is_valid_toml() {
    let blocks = toml_blocks();
    assert!(blocks.len() > 20, "{}", blocks.len());
    for block in blocks {
        // Fragments of a step (`expect_counts.sequence = …`) are valid TOML on their own too.
        if let Err(e) = toml_edit::Document::parse(block) {
            panic!("{block}\n---\n{e}");
        }
    }
}

#[test]
fn the_readmes_first_scenario_parses_and_checks_against_the_guide() {
    let first = toml_blocks()[0];
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/first.toml");
    let catalog = tollgate_scenario::Catalog::discover(&file).unwrap();
    let scenario = tollgate_scenario::parse_with(first, &file, Some(&catalog))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.steps.len(), 8);
}

#[test]
fn step_snippets_parse_after_the_readmes_setup() {
    // Each snippet that is whole steps, after a setup defining the names the README uses.
    let setup = r#"[scenario]
name = "readme"
topology = "guide"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", sandbox = "pizzashack-sandbox", resources = ["GET /menu"] }

[[step]]
revision = { api = "pizza" }

[[step]]
application = { app = "shop" }

[[step]]
generate_keys = { app = "shop", key_type = "production", key = "shop-prod" }

[[step]]
token = { as = "prod_token", key = "shop-prod" }

[[step]]
token = { as = "t", key = "shop-prod" }
"#;
    let mut checked = 0;
    for block in toml_blocks() {
        let whole_steps = block.trim_start().starts_with("[[step]]")
            && !block.contains("publish")
            && !block.contains("application =")
            && !block.contains("generate_keys")
            && !block.contains("token = { as");
        if !whole_steps {
            continue;
        }
        let source = format!("{setup}\n{block}\n");
        if let Err(e) = tollgate_scenario::parse(&source, Path::new("readme.toml")) {
            panic!("{block}\n---\n{e}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}
