//! `POST /connection-check`: everything that can be wrong with a HipChat connection, found
//! and reported at once, in the order of the guide's checklist ("did you enter the token
//! without blank spaces… are the scopes set right… is the url correct… is the HipChat server
//! accessible").
//!
//! HipChat calls: `GET /v2/capabilities` (no token; tells reachability and "is this HipChat"),
//! `GET /v2/oauth/token/{token}` (validity and scopes; if a server lacks it, `auth_test=true`
//! probes instead), and `GET /v2/room/{id}` for the stored notification room.

use jiff::Timestamp;
use secrecy::SecretString;
use serde::Serialize;

use crate::app::{Deps, Wiring};
use crate::domain::connection::CheckRequest;
use crate::domain::destination;
use crate::domain::hipchat_url::normalize;
use crate::domain::partner::PartnerId;
use crate::domain::scopes;
use crate::domain::token::{TokenCheck, TokenMeta, clean_token};
use crate::error::AppError;
use crate::ports::chat::{ChatAccess, ChatError, ChatService, Probe, RoomRef, Unreachable};
use crate::ports::{Clock, SettingsStore};
use crate::service::access::{TokenRead, required_scopes_text};

/// How much a problem matters: a `warning` was fixed for the partner (we trimmed or
/// normalised), an `error` stops the integration from working. `ok` means no errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding: a stable `code`, what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckProblem {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HipchatEndpoints {
    pub base_url: Option<String>,
    pub api_url: Option<String>,
}

/// The `POST /connection-check` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    pub ok: bool,
    pub problems: Vec<CheckProblem>,
    /// The token's scopes as HipChat reported them (empty when unknown).
    pub scopes: Vec<String>,
    /// Required scopes the token lacks.
    pub missing_scopes: Vec<String>,
    pub hipchat: HipchatEndpoints,
    pub checked_at: Timestamp,
}

const TOKEN_STEPS: &str = "In HipChat, open My Account → Edit Profile → API access, create a token labelled \"dynaBOARD\" with the scopes View Room, Send Message, Manage Rooms, Send Notification and View Group, and store it in dynaBOARD (Settings → HipChat).";

fn problem(
    code: &'static str,
    severity: Severity,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> CheckProblem {
    CheckProblem { code, severity, message: message.into(), hint: hint.into() }
}

/// Where the token to check came from.
enum TokenSource {
    Request(SecretString),
    Stored(SecretString, TokenMeta),
    Missing,
}

/// What the token step found out.
enum TokenFinding {
    /// Valid; these are its scopes.
    Scopes(Vec<String>),
    /// 401.
    Rejected,
    /// Could not tell (rate limited, server trouble): reported, status left alone.
    Unknown,
}

/// Runs the check. `body` is `{}` when the request had none.
pub async fn check_connection<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    request: &CheckRequest,
) -> Result<ConnectionReport, AppError> {
    let now = deps.clock.now();
    let hipchat = &deps.chat;
    let stored = deps.store.get(partner).await?;
    let mut problems = Vec::new();

    // 1. The token: blanks around it?
    let token = match &request.token {
        Some(raw) => {
            let (token, warnings) = clean_token(raw).map_err(|m| AppError::validation("token", m))?;
            if !warnings.is_empty() {
                problems.push(problem(
                    "token_whitespace",
                    Severity::Warning,
                    "The token had blanks or invisible characters around it; they were removed for this check.",
                    "Enter the token without blanks at the beginning or end (PUT /token trims them too).",
                ));
            }
            TokenSource::Request(token)
        }
        None => match stored.as_ref().and_then(|s| s.token.clone()) {
            Some(meta) => match deps.token(partner, &meta, TokenRead::Stored).await? {
                Some(secret) => TokenSource::Stored(secret, meta),
                None => TokenSource::Missing,
            },
            None => TokenSource::Missing,
        },
    };
    if matches!(token, TokenSource::Missing) {
        problems.push(problem(
            "token_missing",
            Severity::Error,
            "No HipChat token was given or is stored.",
            format!("Store the token with PUT /token. {TOKEN_STEPS}"),
        ));
    }

    // 2. The URL: just the base?
    let stored_url = stored.as_ref().and_then(|s| s.settings.hipchat_url.clone());
    let url_from_request = request.hipchat_url.is_some();
    let base = match request.hipchat_url.clone().or_else(|| stored_url.clone()) {
        None => {
            problems.push(problem(
                "url_invalid",
                Severity::Error,
                "No HipChat URL was given or is stored.",
                "Enter the base URL of your HipChat, e.g. https://hipchat.example.com (Cloud: https://api.hipchat.com).",
            ));
            None
        }
        Some(raw) => match normalize(&raw) {
            Err(why) => {
                problems.push(problem(
                    "url_invalid",
                    Severity::Error,
                    format!("The HipChat URL {why}."),
                    "Enter just the base URL, e.g. https://hipchat.example.com.",
                ));
                None
            }
            Ok(n) => {
                if url_from_request {
                    // The stored URL was checked when it was saved (and each call checks again).
                    destination::check_entered("hipchat_url", &n.base, deps.chat_hosts)
                        .map_err(|e| AppError::Validation(vec![e]))?;
                }
                if !n.notes.is_empty() {
                    problems.push(problem(
                        "url_has_path",
                        Severity::Warning,
                        format!(
                            "The URL is not just a base URL ({}); {} was checked instead.",
                            n.notes.join("; "),
                            n.base
                        ),
                        "Enter just the base URL, without a path (no /v2) and without a trailing slash.",
                    ));
                }
                Some(n.base)
            }
        },
    };

    let mut report = ConnectionReport {
        ok: false,
        problems: Vec::new(),
        scopes: Vec::new(),
        missing_scopes: Vec::new(),
        hipchat: HipchatEndpoints { base_url: base.clone(), api_url: None },
        checked_at: now,
    };
    let Some(base) = base else {
        return Ok(finish(report, problems));
    };
    let secret = match &token {
        TokenSource::Request(t) | TokenSource::Stored(t, _) => t.clone(),
        TokenSource::Missing => SecretString::from(""),
    };
    let access = ChatAccess::new(&base, secret).map_err(|e| AppError::internal(format!("normalised URL: {e}")))?;

    // 3. Is the server reachable, and is it HipChat?
    match hipchat.capabilities(&access).await {
        Ok(c) => report.hipchat.api_url = Some(c.api_url.unwrap_or_else(|| format!("{base}/v2"))),
        Err(e) => {
            if let Some(p) = reachability_problem(&e, &base) {
                problems.push(p);
                return Ok(finish(report, problems));
            }
            // A HipChat-shaped error: a server without the capabilities document. Go on.
            report.hipchat.api_url = Some(format!("{base}/v2"));
        }
    }
    let room_id = stored.as_ref().and_then(|s| s.settings.notification_room_id);

    // 4. The token: valid, and with the scopes?
    let finding = match &token {
        TokenSource::Missing => TokenFinding::Unknown,
        _ => token_finding(hipchat, &access, room_id, &base, &mut problems).await,
    };
    match &finding {
        TokenFinding::Rejected => problems.push(problem(
            "token_rejected",
            Severity::Error,
            "HipChat rejected the token (401 Invalid OAuth session): it is wrong, revoked, or expired.",
            format!("HipChat personal tokens expire one year after they were made. {TOKEN_STEPS}"),
        )),
        TokenFinding::Scopes(granted) => {
            report.scopes = granted.clone();
            report.missing_scopes = scopes::missing(granted);
            if !report.missing_scopes.is_empty() {
                problems.push(problem(
                    "missing_scopes",
                    Severity::Error,
                    format!("The token lacks these scopes: {}.", scopes::describe(&report.missing_scopes)),
                    format!(
                        "A token's scopes cannot be changed in HipChat. {TOKEN_STEPS} Required: {}.",
                        required_scopes_text()
                    ),
                ));
            }
        }
        TokenFinding::Unknown => {}
    }

    // 5. Does the stored notification room still exist?
    let can_view =
        matches!(&finding, TokenFinding::Scopes(g) if g.iter().any(|s| s == "view_room" || s == "view_group"));
    if let (true, Some(id)) = (can_view, room_id) {
        match hipchat.get_room(&access, RoomRef::Id(id)).await {
            Err(ChatError::RoomNotFound) => problems.push(problem(
                "notification_room_missing",
                Severity::Error,
                format!("The notification room {id} does not exist in HipChat (any more)."),
                "Pick another notification room in the settings (or create one), then save.",
            )),
            Ok(room) if room.is_archived => problems.push(problem(
                "notification_room_missing",
                Severity::Error,
                format!("The notification room {id} ('{}') is archived and cannot receive notifications.", room.name),
                "Unarchive the room in HipChat, or pick another notification room in the settings.",
            )),
            Ok(_) => {}
            Err(e) => tracing::warn!(partner_id = %partner, error = %e, "could not look up the notification room"),
        }
    }

    // The stored token's status follows a conclusive check of the stored token and URL.
    let stored_pair = !url_from_request || stored_url.as_deref() == Some(base.as_str());
    if let (TokenSource::Stored(_, meta), true) = (&token, stored_pair) {
        match &finding {
            TokenFinding::Rejected => deps.token_rejected(partner, meta).await,
            TokenFinding::Scopes(_) => {
                let check =
                    TokenCheck { rejected: false, missing_scopes: report.missing_scopes.clone(), checked_at: now };
                if let Err(e) = deps.store.record_token_check(partner, meta, &check).await {
                    tracing::warn!(partner_id = %partner, error = %crate::error::chain(&e), "could not record the token status");
                }
            }
            TokenFinding::Unknown => {}
        }
    }
    Ok(finish(report, problems))
}

fn finish(mut report: ConnectionReport, problems: Vec<CheckProblem>) -> ConnectionReport {
    report.ok = problems.iter().all(|p| p.severity == Severity::Warning);
    report.problems = problems;
    report
}

/// `unreachable`, `tls_error` or `not_hipchat` for a failure before any token was used;
/// `None` when HipChat answered with its own error shape.
fn reachability_problem(e: &ChatError, base: &str) -> Option<CheckProblem> {
    let firewall = "Check the URL. If your HipChat server is self-hosted, it must be reachable from AWS: check the firewall, DNS and proxy settings.";
    Some(match e {
        ChatError::Unreachable { kind: Unreachable::Tls, .. } => problem(
            "tls_error",
            Severity::Error,
            format!("The TLS (https) connection to {base} failed."),
            "Check that the server has a valid certificate from a public CA for this host name, and that the port speaks https (use http:// for a plain-HTTP port).",
        ),
        ChatError::Unreachable { kind, .. } => {
            problem("unreachable", Severity::Error, format!("{base} cannot be reached: {kind}."), firewall)
        }
        ChatError::Server { status } => problem(
            "unreachable",
            Severity::Error,
            format!("{base} answered with a server error ({status})."),
            "HipChat (or a proxy in front of it) has trouble; check the server, then try again.",
        ),
        ChatError::NotAllowed { refusal } => problem(
            destination::URL_NOT_ALLOWED,
            Severity::Error,
            format!("{base} {}.", destination::refusal_message(*refusal)),
            "Enter the public address of your HipChat server. If it runs in your own network, ask the operator of \
             this integration whether private addresses can be allowed.",
        ),
        ChatError::NotHipchat { detail, .. } => problem(
            "not_hipchat",
            Severity::Error,
            format!("{base} answers, but not like the HipChat v2 API: {detail}."),
            "Enter the base URL of your HipChat (Cloud: https://api.hipchat.com), not the URL of another web page.",
        ),
        _ => return None,
    })
}

/// Reads the token's scopes from `GET /v2/oauth/token/{token}`, or probes with `auth_test`
/// when the server has no such endpoint.
async fn token_finding(
    hipchat: &impl ChatService,
    access: &ChatAccess,
    room_id: Option<u64>,
    base: &str,
    problems: &mut Vec<CheckProblem>,
) -> TokenFinding {
    match hipchat.token_info(access).await {
        Ok(info) => TokenFinding::Scopes(info.scopes),
        Err(ChatError::TokenRejected) => TokenFinding::Rejected,
        Err(e) if e.is_unanswered() => {
            problems.push(interrupted(&e, base));
            TokenFinding::Unknown
        }
        Err(e) => {
            tracing::info!(error = %e, "token info unavailable; probing scopes with auth_test");
            probe_scopes(hipchat, access, room_id, base, problems).await
        }
    }
}

/// The check could not finish: HipChat rate-limited us or failed mid-way.
fn interrupted(e: &ChatError, base: &str) -> CheckProblem {
    match e {
        ChatError::RateLimited { reset_at, .. } => problem(
            "rate_limited",
            Severity::Error,
            "HipChat's rate limit for this token (100 requests per 5 minutes) is reached; the token could not be checked.",
            match reset_at {
                Some(t) => format!("Try again after {t}."),
                None => "Try again in a few minutes.".to_owned(),
            },
        ),
        other => reachability_problem(other, base).unwrap_or_else(|| {
            problem("unreachable", Severity::Error, format!("{base} failed during the check: {other}."), "Try again.")
        }),
    }
}

/// `auth_test=true` probes: 202 grants the scopes of the probed call, 403 or 401 does not.
/// `GET /v2/room` accepts `view_group` or `view_room`, so a probe cannot tell them apart: a
/// 202 counts as both. Every probe answering 401 means the token itself is rejected.
async fn probe_scopes(
    hipchat: &impl ChatService,
    access: &ChatAccess,
    room_id: Option<u64>,
    base: &str,
    problems: &mut Vec<CheckProblem>,
) -> TokenFinding {
    let room = room_id.unwrap_or(1);
    let probes: [(Probe, &[&str]); 4] = [
        (Probe::ListRooms, &["view_room", "view_group"]),
        (Probe::CreateRoom, &["manage_rooms"]),
        (Probe::SendNotification(room), &["send_notification"]),
        (Probe::SendMessage(room), &["send_message"]),
    ];
    let mut granted = Vec::new();
    let mut rejected = 0;
    for (probe, grants) in probes {
        match hipchat.auth_test(access, probe).await {
            Ok(()) => granted.extend(grants.iter().map(|s| (*s).to_owned())),
            Err(ChatError::TokenRejected) => rejected += 1,
            Err(ChatError::MissingScopes { .. }) => {}
            Err(e) if e.is_unanswered() => {
                problems.push(interrupted(&e, base));
                return TokenFinding::Unknown;
            }
            Err(e) => {
                tracing::info!(?probe, error = %e, "auth_test probe inconclusive; counting the scope as granted");
                granted.extend(grants.iter().map(|s| (*s).to_owned()));
            }
        }
    }
    if rejected == probes.len() { TokenFinding::Rejected } else { TokenFinding::Scopes(granted) }
}
