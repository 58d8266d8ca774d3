//! What `hookhole doctor` found: one [`Check`] per line, as text or as
//! JSON lines, always through the output sanitiser (a relay's words and a
//! config file's values are outside text).

use crate::output;
use serde::Serialize;

/// A check's outcome. Only `fail` makes doctor exit non-zero: `warn` is
/// something that works but may not be what was meant (an embedded relay
/// port taken, `--insecure`), `skip` a check that could not run because an
/// earlier one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked: `config`, `settings`, `relay`, `tls`, `protocol`,
    /// `token`, `channel`, `embedded_relay`, `forward`, `route`,
    /// `data_dir`, `secret` (docs/doctor.md lists them).
    pub check: &'static str,
    /// What it was checked on: a relay URL, a forward target, a path, a
    /// provider; absent when the check names it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do about it, when the verdict is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn new(check: &'static str, verdict: Verdict, detail: impl Into<String>) -> Check {
        Check {
            check,
            subject: None,
            verdict,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn ok(check: &'static str, detail: impl Into<String>) -> Check {
        Check::new(check, Verdict::Ok, detail)
    }

    pub fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(check, Verdict::Fail, detail).fix(fix)
    }

    pub fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(check, Verdict::Warn, detail).fix(fix)
    }

    /// A check that could not run, and `why`.
    pub fn skip(check: &'static str, why: impl Into<String>) -> Check {
        Check::new(check, Verdict::Skip, format!("not checked: {}", why.into()))
    }

    pub fn on(mut self, subject: impl Into<String>) -> Check {
        self.subject = Some(subject.into());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    /// The check as one line of text: `fail  forward 127.0.0.1:3000:
    /// connection refused; fix: ...` (escaped by [`output::line`]).
    pub fn text(&self) -> String {
        let mut line = format!("{:<5} {}", self.verdict.word(), self.check);
        if let Some(subject) = &self.subject {
            line.push(' ');
            line.push_str(subject);
        }
        line.push_str(": ");
        line.push_str(&self.detail);
        if let Some(fix) = &self.fix {
            line.push_str("; fix: ");
            line.push_str(fix);
        }
        line
    }
}

/// The checks made so far, printed as they are made.
pub struct Report {
    json: bool,
    checks: Vec<Check>,
}

impl Report {
    pub fn new(json: bool) -> Report {
        Report {
            json,
            checks: Vec::new(),
        }
    }

    /// Records `check` and prints it at once, so a slow check (a relay
    /// that does not answer) shows what was found before it.
    pub fn add(&mut self, check: Check) {
        // A closed stdout (`doctor | head -1`) only ends the output; the
        // verdict still reaches the exit code.
        if self.json {
            let _ = output::json(&check, false);
        } else {
            output::line(&check.text());
        }
        self.checks.push(check);
    }

    pub fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count()
    }

    /// The closing line of the text report: counts per verdict.
    pub fn summary(&self) -> String {
        let count = |v: Verdict| self.checks.iter().filter(|c| c.verdict == v).count();
        let mut parts = vec![output::count(self.checks.len(), "check", "checks")];
        for (verdict, word) in [
            (Verdict::Ok, "ok"),
            (Verdict::Warn, "warned"),
            (Verdict::Fail, "failed"),
            (Verdict::Skip, "skipped"),
        ] {
            let n = count(verdict);
            if n > 0 || verdict == Verdict::Ok {
                parts.push(format!("{n} {word}"));
            }
        }
        parts.join(", ")
    }

    pub fn json(&self) -> bool {
        self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_verdict_the_check_the_subject_and_the_fix() {
        let check =
            Check::fail("forward", "connection refused", "start your server").on("127.0.0.1:3000");
        assert_eq!(
            check.text(),
            "fail  forward 127.0.0.1:3000: connection refused; fix: start your server"
        );
        assert_eq!(
            Check::ok("config", "no config file").text(),
            "ok    config: no config file"
        );
        let json = serde_json::to_value(&check).unwrap();
        assert_eq!(json["verdict"], "fail");
        assert_eq!(json["subject"], "127.0.0.1:3000");
        assert!(serde_json::to_value(Check::ok("config", "x")).unwrap()["fix"].is_null());
    }

    #[test]
    fn the_summary_counts_each_verdict_and_only_failures_fail() {
        let mut report = Report::new(true);
        report.checks.push(Check::ok("config", "x"));
        report.checks.push(Check::warn("tls", "x", "y"));
        assert_eq!(report.failures(), 0);
        assert_eq!(report.summary(), "2 checks, 1 ok, 1 warned");
        report.checks.push(Check::fail("token", "x", "y"));
        report
            .checks
            .push(Check::skip("channel", "the token was refused"));
        assert_eq!(report.failures(), 1);
        assert_eq!(
            report.summary(),
            "4 checks, 1 ok, 1 warned, 1 failed, 1 skipped"
        );
    }
}
