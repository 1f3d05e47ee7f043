//! The JUnit report of a regress run (CONTRACTS §3.7), laid out as Go's `xml.MarshalIndent` writes
//! the reference's structs: the XML header, `<testsuites>` with the counts, one `<testsuite>` named
//! `gait.regress.<fixture_set>`, one `<testcase>` per grader result (name = grader, classname =
//! fixture, `time="0"` so the file is byte-stable), and for a failure
//! `<failure message="<reasons>" type="regress_failure"><reasons></failure>`.

use super::result::{GradeStatus, RegressResult};

/// Escapes text the way Go's `xml.EscapeText` does (also used for attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if in_xml_char_range(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn in_xml_char_range(c: char) -> bool {
    matches!(c as u32, 0x09 | 0x0A | 0x0D | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Renders the report.
pub fn render(result: &RegressResult) -> String {
    let tests = result.graders.len();
    let failures = result
        .graders
        .iter()
        .filter(|g| g.status == GradeStatus::Fail)
        .count();
    let counts =
        format!("tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\"");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites {counts}>\n"));
    let suite = format!(
        "  <testsuite name=\"{}\" {counts}>",
        escape(&format!("gait.regress.{}", result.fixture_set))
    );
    if result.graders.is_empty() {
        out.push_str(&suite);
        out.push_str("</testsuite>\n");
    } else {
        out.push_str(&suite);
        out.push('\n');
        for g in &result.graders {
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\">",
                escape(g.grader()),
                escape(g.fixture())
            );
            out.push_str(&open);
            if g.status == GradeStatus::Fail {
                let text = escape(&g.failure_text());
                out.push_str(&format!(
                    "\n      <failure message=\"{text}\" type=\"regress_failure\">{text}</failure>\n    "
                ));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GoTime;
    use crate::regress::result::GraderResult;
    use std::collections::BTreeMap;

    fn gr(name: &str, fail: &[&str]) -> GraderResult {
        GraderResult {
            name: name.into(),
            status: if fail.is_empty() {
                GradeStatus::Pass
            } else {
                GradeStatus::Fail
            },
            reason_codes: fail.iter().map(|s| s.to_string()).collect(),
            context_conformance: None,
            details: BTreeMap::new(),
        }
    }

    #[test]
    fn layout_matches_go_marshal_indent() {
        let r = RegressResult::new(
            "default",
            GoTime::epoch_1980(),
            vec![
                gr("run_demo/schema_validation", &[]),
                gr("run_demo/diff", &["unexpected_diff"]),
            ],
        );
        assert_eq!(
            render(&r),
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<testsuites tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
                "  <testsuite name=\"gait.regress.default\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
                "    <testcase name=\"diff\" classname=\"run_demo\" time=\"0\">\n",
                "      <failure message=\"unexpected_diff\" type=\"regress_failure\">unexpected_diff</failure>\n",
                "    </testcase>\n",
                "    <testcase name=\"schema_validation\" classname=\"run_demo\" time=\"0\"></testcase>\n",
                "  </testsuite>\n",
                "</testsuites>\n",
            )
        );
    }

    #[test]
    fn empty_suite_and_escaping() {
        let r = RegressResult::new("a<b>&\"c'\u{1}", GoTime::epoch_1980(), vec![]);
        let x = render(&r);
        assert!(
            x.contains("name=\"gait.regress.a&lt;b&gt;&amp;&#34;c&#39;\u{FFFD}\" tests=\"0\""),
            "{x}"
        );
        assert!(
            x.contains("time=\"0\"></testsuite>\n</testsuites>\n"),
            "{x}"
        );
        assert_eq!(escape("a\tb\nc\rd"), "a&#x9;b&#xA;c&#xD;d");
    }
}
