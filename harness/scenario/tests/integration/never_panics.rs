//! Whatever the input, parsing returns a scenario or errors: it never panics.
//!
//! A fuzz target on the stable toolchain: 512 cases per property under `cargo test`,
//! `TOLLGATE_FUZZ_CASES=N` for a long run (docs/security.md).

use proptest::prelude::*;
use std::path::Path;

const GUIDE: &str = include_str!(
    "../../../../scenarios/guide/one-api-served-by-two-gateways-as-the-guide-shows.toml"
);
const ROUTING: &str = include_str!(
    "../../../../scenarios/routing/each-resource-reaches-the-backend-under-the-endpoint-path.toml"
);

/// Every error has a position inside the file (or 0:0 for the file as a whole).
fn check(source: &str) {
    if let Err(errors) = tollgate_scenario::parse(source, Path::new("p.toml")) {
        assert!(!errors.is_empty());
        let lines = source.lines().count().max(1) + 1;
        for e in &errors {
            assert!(e.line <= lines, "{e} (file has {lines} lines)");
        }
    }
}

/// Cases per property: `TOLLGATE_FUZZ_CASES`, else 512.
fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC*") {
        check(&source);
    }

    #[test]
    fn toml_shaped_text_never_panics(
        source in "(\\[\\[step\\]\\]\n|\\[scenario\\]\n|[a-z_]{1,12} = (\"[^\"\\n]{0,20}\"|[0-9]{1,4}|\\{ [a-z]{1,6} = \"\\$\\{[a-z.]{0,12}\\}\" \\}|\\[\"[a-z -]{0,10}\"\\])\n){0,30}"
    ) {
        check(&source);
    }

    #[test]
    fn cutting_a_valid_scenario_anywhere_never_panics(cut in 0usize..GUIDE.len(), len in 0usize..40) {
        let start = (0..=cut).rev().find(|i| GUIDE.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len..=GUIDE.len()).find(|i| GUIDE.is_char_boundary(*i)).unwrap_or(GUIDE.len());
        check(&format!("{}{}", &GUIDE[..start], &GUIDE[end..]));
    }

    #[test]
    fn splicing_text_into_a_valid_scenario_never_panics(at in 0usize..ROUTING.len(), insert in "[ -~]{0,12}") {
        let at = (0..=at).rev().find(|i| ROUTING.is_char_boundary(*i)).unwrap_or(0);
        check(&format!("{}{}{}", &ROUTING[..at], insert, &ROUTING[at..]));
    }
}
