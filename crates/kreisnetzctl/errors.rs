//! What went wrong, as the user sees it: one line `error: <reason>` on stderr, indented detail
//! lines (one per field violation, failed precondition, ...), and an exit code a script can act
//! on. Nothing here ever prints a Rust `Debug` dump.
use std::fmt;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Exit codes (documented in `kreisnetzctl --help`).
pub mod exit {
    pub const OTHER: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
    pub const INVALID_ARGUMENT: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const CONFLICT: u8 = 6;
    pub const DENIED: u8 = 7;
}

const START_HINT: &str = "is the node running? start it with `kreisnetz serve`";
/// After UNAUTHENTICATED with a token.
const TOKEN_HINT: &str = "give a valid token with --token or --token-file (tokens are made with \
                          `kreisnetzctl token create`)";
/// After UNAUTHENTICATED without one.
pub const NO_TOKEN_HINT: &str = "no token: pass --token, or --token-file, or run on the node's \
                                 machine where <data-dir>/admin.token is found";

/// A mistake on the command line found after clap was done (e.g. `--title` together with
/// `--clear title`); exit code 2 like clap's own.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The node could not be reached at all.
#[derive(Debug)]
pub struct Unreachable {
    pub reason: String,
    /// What to check, when the reason points at something more specific than a node that is
    /// not running (e.g. a certificate `--ca-cert` does not trust).
    pub hint: Option<String>,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Unreachable {}

/// The node did not answer within `--timeout`.
#[derive(Debug)]
pub struct TimedOut {
    pub after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "did not answer within {} s (see --timeout)",
            self.after.as_secs_f64()
        )
    }
}

impl std::error::Error for TimedOut {}

/// An error with an extra line of advice, e.g. how to resume an interrupted `watch`.
#[derive(Debug)]
pub struct Hinted {
    pub error: anyhow::Error,
    pub hint: String,
}

impl Hinted {
    pub fn wrap(error: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Hinted {
            error: error.into(),
            hint: hint.into(),
        })
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The wrapped error stands in the chain after this one (whose text is the same).
        Some(self.error.as_ref())
    }
}

/// The calls went without a token (none given, no admin token file found): an UNAUTHENTICATED
/// answer gets [`NO_TOKEN_HINT`] and `notes` (why an admin token file was not used) instead of
/// the advice for a wrong token.
#[derive(Debug)]
pub struct NoToken {
    pub error: anyhow::Error,
    pub notes: Vec<String>,
}

impl fmt::Display for NoToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for NoToken {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

/// The exit code for a gRPC status code.
pub fn exit_code(code: Code) -> u8 {
    match code {
        Code::Unavailable | Code::DeadlineExceeded => exit::UNREACHABLE,
        Code::InvalidArgument => exit::INVALID_ARGUMENT,
        Code::NotFound => exit::NOT_FOUND,
        Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted | Code::OutOfRange => {
            exit::CONFLICT
        }
        Code::PermissionDenied | Code::Unauthenticated => exit::DENIED,
        _ => exit::OTHER,
    }
}

/// What to print and which exit code to return.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub exit_code: u8,
    /// The first line starts with `error: `; the others are indented details.
    pub lines: Vec<String>,
}

impl Report {
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// Whether the error is a closed stdout (`kreisnetzctl ... | head`): not worth a message.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            // JSON output goes through serde_json, which wraps the write error.
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// The report of any error a command returned; `node` is the address that was used.
pub fn report(err: &anyhow::Error, node: &str) -> Report {
    let hints: Vec<String> = err
        .chain()
        .filter_map(|e| e.downcast_ref::<Hinted>())
        .map(|h| format!("  {}", h.hint))
        .collect();
    let mut report = if let Some(status) = err.chain().find_map(|e| e.downcast_ref::<Status>()) {
        let mut report = status_report(status, node);
        if let Some(no_token) = err.chain().find_map(|e| e.downcast_ref::<NoToken>())
            && status.code() == Code::Unauthenticated
        {
            report.lines.retain(|l| l != &format!("  {TOKEN_HINT}"));
            report.lines.push(format!("  {NO_TOKEN_HINT}"));
            report
                .lines
                .extend(no_token.notes.iter().map(|n| format!("  {n}")));
        }
        report
    } else if let Some(u) = err.chain().find_map(|e| e.downcast_ref::<Usage>()) {
        Report {
            exit_code: exit::USAGE,
            lines: vec![format!("error: {u}")],
        }
    } else if let Some(u) = err.chain().find_map(|e| e.downcast_ref::<Unreachable>()) {
        Report {
            exit_code: exit::UNREACHABLE,
            lines: vec![
                format!("error: cannot reach the node at {node}: {u}"),
                format!("  {}", u.hint.as_deref().unwrap_or(START_HINT)),
            ],
        }
    } else if let Some(t) = err.chain().find_map(|e| e.downcast_ref::<TimedOut>()) {
        Report {
            exit_code: exit::UNREACHABLE,
            lines: vec![
                format!("error: the node at {node} {t}"),
                format!("  {START_HINT}"),
            ],
        }
    } else {
        // Context messages and causes, outermost first, without the hints.
        let reason: Vec<String> = err
            .chain()
            .filter(|e| {
                e.downcast_ref::<Hinted>().is_none() && e.downcast_ref::<NoToken>().is_none()
            })
            .map(|e| e.to_string())
            .collect();
        Report {
            exit_code: exit::OTHER,
            lines: vec![format!("error: {}", reason.join(": "))],
        }
    };
    report.lines.extend(hints);
    report
}

/// The report of an error status from the node, with its `google.rpc` details.
pub fn status_report(status: &Status, node: &str) -> Report {
    let code = status.code();
    let message = match status.message().trim() {
        "" => code.description().to_string(),
        m => m.to_string(),
    };
    let first = match code {
        Code::Unavailable => format!("the node at {node} is unavailable: {message}"),
        Code::DeadlineExceeded => format!("the node at {node} did not answer in time: {message}"),
        _ => message.clone(),
    };
    let details = status.get_error_details();
    let first = match details
        .bad_request()
        .and_then(|b| b.field_violations.first())
    {
        // The violations get a line each; a message that repeats them is cut before them.
        Some(v) => match first.find(&format!("{}: {}", v.field, v.description)) {
            Some(i) => match first[..i].trim_end_matches([':', ';', ',', ' ']) {
                "" => "invalid argument".to_string(),
                head => head.to_string(),
            },
            None => first,
        },
        None => first,
    };
    let mut lines = vec![format!("error: {first}")];

    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            lines.push(format!("  {}: {}", v.field, v.description));
        }
    }
    if let Some(pre) = details.precondition_failure() {
        // A violation the message already tells adds nothing but noise.
        for v in pre
            .violations
            .iter()
            .filter(|v| !message.contains(&v.description))
        {
            let subject = if v.subject.is_empty() {
                &v.r#type
            } else {
                &v.subject
            };
            lines.push(format!("  {subject}: {}", v.description));
        }
    }
    if let Some(res) = details.resource_info()
        && !res.resource_name.is_empty()
        && !message.contains(&res.resource_name)
    {
        let what = [res.resource_type.as_str(), res.resource_name.as_str()];
        let mut line = format!(
            "  {}",
            what.iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !res.description.is_empty() {
            line.push_str(&format!(": {}", res.description));
        }
        lines.push(line);
    }
    if let Some(help) = details.help() {
        for link in &help.links {
            lines.push(format!("  see {}: {}", link.description, link.url));
        }
    }
    match code {
        Code::Unavailable | Code::DeadlineExceeded => lines.push(format!("  {START_HINT}")),
        Code::Unauthenticated => lines.push(format!("  {TOKEN_HINT}")),
        _ => {}
    }
    Report {
        exit_code: exit_code(code),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use tonic_types::ErrorDetails;

    #[test]
    fn a_closed_pipe_is_recognised_also_through_json_output() {
        let pipe = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&anyhow::Error::new(pipe())));
        let json = anyhow::Error::new(serde_json::Error::io(pipe())).context("printing");
        assert!(is_broken_pipe(&json));
        let other = serde_json::Error::io(std::io::Error::from(std::io::ErrorKind::Other));
        assert!(!is_broken_pipe(&anyhow::Error::new(other)));
    }

    const NODE: &str = "http://127.0.0.1:7700";

    #[test]
    fn status_codes_map_to_exit_codes() {
        let cases = [
            (Code::Unavailable, 3),
            (Code::DeadlineExceeded, 3),
            (Code::InvalidArgument, 4),
            (Code::NotFound, 5),
            (Code::AlreadyExists, 6),
            (Code::FailedPrecondition, 6),
            (Code::Aborted, 6),
            (Code::PermissionDenied, 7),
            (Code::Unauthenticated, 7),
            (Code::Internal, 1),
            (Code::Unknown, 1),
            (Code::Unimplemented, 1),
            (Code::ResourceExhausted, 1),
        ];
        for (code, exit) in cases {
            assert_eq!(exit_code(code), exit, "{code:?}");
            let err = anyhow::Error::new(Status::new(code, "x"));
            assert_eq!(report(&err, NODE).exit_code, exit, "{code:?}");
        }
    }

    #[test]
    fn bad_request_lists_every_field_violation() {
        let mut details = ErrorDetails::new();
        details
            .add_bad_request_violation("offering.title", "is required")
            .add_bad_request_violation(
                "offering.places_free",
                "3 free places is more than the 2 places in total",
            );
        let status = Status::with_error_details(Code::InvalidArgument, "invalid offering", details);
        let r = report(&anyhow::Error::new(status), NODE);
        assert_eq!(r.exit_code, 4);
        assert_eq!(
            r.text(),
            "error: invalid offering\n  offering.title: is required\n  offering.places_free: 3 free \
             places is more than the 2 places in total\n"
        );
    }

    #[test]
    fn a_message_repeating_the_violations_is_cut_before_them() {
        let details = ErrorDetails::with_bad_request_violation("offering.title", "is required");
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: offering.title: is required",
            details.clone(),
        );
        let r = report(&anyhow::Error::new(status), NODE);
        assert_eq!(
            r.lines,
            ["error: invalid request", "  offering.title: is required"]
        );
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "offering.title: is required",
            details,
        );
        let r = report(&anyhow::Error::new(status), NODE);
        assert_eq!(
            r.lines,
            ["error: invalid argument", "  offering.title: is required"]
        );
    }

    #[test]
    fn not_found_names_the_resource() {
        let details =
            ErrorDetails::with_resource_info("offering", "districts/D-X/offerings/1", "", "");
        let status = Status::with_error_details(Code::NotFound, "no such offering", details);
        let r = report(&anyhow::Error::new(status), NODE);
        assert_eq!(r.exit_code, 5);
        assert_eq!(
            r.lines,
            [
                "error: no such offering",
                "  offering districts/D-X/offerings/1"
            ]
        );
    }

    #[test]
    fn precondition_failures_are_listed() {
        let details = ErrorDetails::with_precondition_failure_violation(
            "ETAG",
            "etag",
            "the offering changed",
        );
        let status = Status::with_error_details(Code::FailedPrecondition, "stale etag", details);
        let r = report(&anyhow::Error::new(status), NODE);
        assert_eq!(r.exit_code, 6);
        assert_eq!(
            r.lines,
            ["error: stale etag", "  etag: the offering changed"]
        );
        let details =
            ErrorDetails::with_precondition_failure_violation("ETAG", "x", "etag is stale");
        let status = Status::with_error_details(Code::FailedPrecondition, "etag is stale", details);
        assert_eq!(
            report(&anyhow::Error::new(status), NODE).lines,
            ["error: etag is stale"]
        );
    }

    #[test]
    fn unreachable_nodes_name_the_address_and_how_to_start_one() {
        let err = anyhow::Error::new(Unreachable {
            reason: "connection refused".into(),
            hint: None,
        });
        let r = report(&err, NODE);
        assert_eq!(r.exit_code, 3);
        assert_eq!(
            r.lines[0],
            "error: cannot reach the node at http://127.0.0.1:7700: connection refused"
        );
        assert!(r.lines[1].contains("kreisnetz serve"));

        // A more specific hint takes the place of the one about starting the node.
        let err = anyhow::Error::new(Unreachable {
            reason: "invalid peer certificate: UnknownIssuer".into(),
            hint: Some("check --ca-cert".into()),
        });
        let r = report(&err, "https://kreis.example.org:7700");
        assert_eq!(r.exit_code, 3);
        assert_eq!(
            r.lines,
            [
                "error: cannot reach the node at https://kreis.example.org:7700: invalid peer \
                 certificate: UnknownIssuer",
                "  check --ca-cert"
            ]
        );

        let r = report(&anyhow::Error::new(Status::unavailable("")), NODE);
        assert_eq!(r.exit_code, 3);
        assert!(
            r.lines[0].contains(NODE) && r.lines[1].contains("kreisnetz serve"),
            "{r:?}"
        );
    }

    #[test]
    fn hints_and_context_are_shown_without_debug_dumps() {
        let err = Hinted::wrap(
            Status::unavailable("connection reset"),
            "resume with `kreisnetzctl watch --after 7`",
        );
        let r = report(&err, NODE);
        assert_eq!(r.exit_code, 3);
        assert_eq!(
            r.lines.last().unwrap(),
            "  resume with `kreisnetzctl watch --after 7`"
        );

        let err = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing")
            .unwrap_err();
        let r = report(&err, NODE);
        assert_eq!(
            (r.exit_code, r.lines.as_slice()),
            (1, &["error: writing: disk full".to_string()][..])
        );
        let r = report(&Hinted::wrap(err, "try again"), NODE);
        assert_eq!(r.lines, ["error: writing: disk full", "  try again"]);
    }

    #[test]
    fn unauthenticated_says_how_to_give_a_token() {
        let refused = || Status::unauthenticated("this call needs `authorization: Bearer <token>`");
        // A token was sent and refused.
        let r = report(&anyhow::Error::new(refused()), NODE);
        assert_eq!(r.exit_code, 7);
        assert_eq!(r.lines.len(), 2, "{r:?}");
        assert!(r.lines[1].contains("--token-file"), "{r:?}");

        // No token was sent.
        let err = anyhow::Error::new(NoToken {
            error: refused().into(),
            notes: vec![
                "./kreisnetz-data/admin.token exists but was not used: the file is empty".into(),
            ],
        });
        let r = report(&err, NODE);
        assert_eq!(r.exit_code, 7);
        assert_eq!(
            r.lines,
            [
                "error: this call needs `authorization: Bearer <token>`",
                "  no token: pass --token, or --token-file, or run on the node's machine where \
                 <data-dir>/admin.token is found",
                "  ./kreisnetz-data/admin.token exists but was not used: the file is empty",
            ]
        );

        // Any other answer is reported as it is.
        let err = anyhow::Error::new(NoToken {
            error: Status::permission_denied("needs the admin role").into(),
            notes: vec![],
        });
        assert_eq!(report(&err, NODE).lines, ["error: needs the admin role"]);
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let r = report(&anyhow::Error::new(Usage("nothing to update".into())), NODE);
        assert_eq!(
            r,
            Report {
                exit_code: 2,
                lines: vec!["error: nothing to update".into()]
            }
        );
    }
}
