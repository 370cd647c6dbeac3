//! The report as JUnit XML and as a short text.

use super::{RULES, Report, Severity, seqs};
use std::fmt::Write;

/// JUnit XML: one test case per rule; a `<failure>` per error finding;
/// warnings and infos as the case's `<system-out>`.
pub(super) fn junit(report: &Report) -> String {
    let failures = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let failed_cases = RULES
        .iter()
        .filter(|rule| {
            report
                .findings
                .iter()
                .any(|f| f.rule == rule.id && f.severity == Severity::Error)
        })
        .count();
    let suite = format!("persona-mock contract: session {}", report.session);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"persona-mock contract report\" tests=\"{}\" failures=\"{failed_cases}\">",
        RULES.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed_cases}\" errors=\"0\" skipped=\"0\">",
        escape(&suite),
        RULES.len()
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"requests\" value=\"{}\"/><property name=\"dropped\" value=\"{}\"/><property name=\"error-findings\" value=\"{failures}\"/></properties>",
        report.requests, report.dropped
    );
    for rule in &RULES {
        let mut inside = String::new();
        let mut notes = Vec::new();
        for finding in report.findings.iter().filter(|f| f.rule == rule.id) {
            if finding.severity == Severity::Error {
                let _ = write!(
                    inside,
                    "\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    rule.id,
                    escape(&format!("{}: {}", seqs(&finding.requests), rule.summary)),
                    escape(&finding.message)
                );
            } else {
                notes.push(format!(
                    "{} {}: {}",
                    finding.severity.name(),
                    seqs(&finding.requests),
                    finding.message
                ));
            }
        }
        if !notes.is_empty() {
            let _ = write!(
                inside,
                "\n      <system-out>{}</system-out>",
                escape(&notes.join("\n"))
            );
        }
        let _ = write!(
            out,
            "    <testcase classname=\"persona-mock.contract\" name=\"{}\">",
            rule.id
        );
        if !inside.is_empty() {
            out.push_str(&inside);
            out.push_str("\n    ");
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text safe in XML content and attribute values: the hosted page's
/// markup escaping, with newlines as references (attribute values keep
/// them) and the control characters XML 1.0 cannot hold replaced.
fn escape(text: &str) -> String {
    let held: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 => '\u{FFFD}',
            c => c,
        })
        .collect();
    crate::handlers::hosted::escape(&held).replace('\n', "&#10;")
}

/// A short human summary: a count line, then a line per finding.
pub(super) fn text(report: &Report) -> String {
    let count = |severity: Severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let plural = |n: usize, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut out = format!(
        "persona-mock contract report, session {}: {} judged, {}, {}, {}\n",
        report.session,
        plural(report.requests, "request"),
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Info), "info"),
    );
    if report.dropped > 0 {
        let _ = writeln!(
            out,
            "note: the journal had dropped {} of this session's requests (its limits); they were not judged",
            report.dropped
        );
    }
    if report.findings.is_empty() {
        out.push_str("no findings: the client kept Persona's contract\n");
    }
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "{:<7} {} ({}): {}",
            finding.severity.name(),
            finding.rule,
            seqs(&finding.requests),
            finding.message
        );
    }
    out
}
