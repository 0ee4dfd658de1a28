//! Guest access pages: `GET /g<code>` asks for a name; submitting it shows the room. And the
//! staff's web-client room page `GET /chat/room/<id>` (the link a "go to room" notification carries).
//!
//! HipChat's real guest UI was a full web client; this is just enough to follow the flow in a browser.

use std::fmt::Write as _;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::Simulator;
use crate::v2::{MAX_BODY, Query};

/// `/g` followed by 8 ASCII letters or digits → the code.
pub(crate) fn guest_code(path: &str) -> Option<&str> {
    let code = path.strip_prefix("/g")?;
    (code.len() == 8 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// Escape text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}} \
         li{{margin:.4em 0}} .meta{{color:#666;font-size:.85em}}</style></head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    );
    let mut response = (status, page).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Guest link not found",
        "<h1>Guest link not found</h1>\n<p>This guest link is not valid: the room does not exist or guest access \
         is turned off.</p>",
    )
}

/// Serve `/g<code>`: the name form (GET), or the room once a name is submitted (POST, or GET with `join`).
pub(crate) async fn handle(sim: Simulator, code: String, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let (submitted, name) = match parts.method {
        Method::GET => (query.get("join").is_some(), query.get("name").unwrap_or("").to_owned()),
        Method::POST => {
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return html(StatusCode::PAYLOAD_TOO_LARGE, "Too large", "<p>Request body too large.</p>");
            };
            let form = Query::parse(std::str::from_utf8(&bytes).ok());
            let name = form.get("name").or(query.get("name")).unwrap_or("").to_owned();
            (true, name)
        }
        _ => {
            let mut response = html(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "<p>Use GET or POST.</p>");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }
    };
    let room = {
        let state = sim.lock();
        state.room_by_guest_code(&code).map(|r| state.snapshot(r))
    };
    let Some(room) = room else { return not_found() };
    let name = name.trim();
    if !submitted || name.is_empty() {
        let hint = if submitted { "<p class=\"error\">Please enter your name.</p>\n" } else { "" };
        let body = format!(
            "<h1>Join {room} as a guest</h1>\n{hint}<form method=\"post\" action=\"/g{code}\">\n\
             <label>Your name <input name=\"name\" value=\"{name}\" maxlength=\"50\" required autofocus></label>\n\
             <button type=\"submit\">Join room</button>\n</form>",
            room = escape(&room.name),
            code = escape(&code),
            name = escape(name),
        );
        return html(StatusCode::OK, &format!("Join {}", room.name), &body);
    }

    let mut body = format!(
        "<h1>{}</h1>\n<p>Topic: {}</p>\n<p class=\"meta\">You are {} (guest). \
         <a href=\"/g{}?join=1&amp;name={}\">Refresh</a></p>\n",
        escape(&room.name),
        escape(&room.topic),
        escape(name),
        escape(&code),
        escape(&url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()),
    );
    push_entries(&mut body, &room);
    html(StatusCode::OK, &room.name, &body)
}

/// Everything posted to the room, oldest first (all HTML-escaped; `html` notifications as text).
fn push_entries(body: &mut String, room: &crate::model::RoomSnapshot) {
    let mut entries: Vec<(jiff::Timestamp, String)> = room
        .notifications
        .iter()
        .map(|n| {
            let from = n.from.as_deref().map(|f| format!(" from {}", escape(f))).unwrap_or_default();
            (
                n.at,
                format!(
                    "<li class=\"notification {color}\"><span class=\"meta\">{at} notification ({color}){from}</span><br>{msg}</li>",
                    color = escape(&n.color),
                    at = n.at,
                    msg = escape(&n.message),
                ),
            )
        })
        .chain(room.messages.iter().map(|m| {
            (m.at, format!("<li class=\"message\"><span class=\"meta\">{} message</span><br>{}</li>", m.at, escape(&m.message)))
        }))
        .collect();
    entries.sort_by_key(|(at, _)| *at);
    if entries.is_empty() {
        body.push_str("<p>No messages yet.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for (_, line) in entries {
            let _ = writeln!(body, "{line}");
        }
        body.push_str("</ul>\n");
    }
}

/// `/chat/room/<id>` → the id.
pub(crate) fn web_room_id(path: &str) -> Option<u64> {
    path.strip_prefix("/chat/room/")?.parse().ok()
}

/// The staff's view of a room in HipChat's web client (`GET /chat/room/<id>`): name, topic,
/// guest access, and everything posted. No login, like the rest of the simulator's pages.
pub(crate) fn web_room(sim: &Simulator, id: u64, method: &Method) -> Response {
    if method != Method::GET {
        let mut response = html(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "<p>Use GET.</p>");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let room = {
        let state = sim.lock();
        state.rooms.get(&id).map(|r| state.snapshot(r))
    };
    let Some(room) = room else {
        return html(
            StatusCode::NOT_FOUND,
            "Room not found",
            "<h1>Room not found</h1>\n<p>The room does not exist.</p>",
        );
    };
    let guest = match &room.guest_access_url {
        Some(url) => format!("guest access on: <a href=\"{0}\">{0}</a>", escape(url)),
        None => "guest access off".to_owned(),
    };
    let mut body = format!(
        "<h1>{}</h1>\n<p>Topic: {}</p>\n<p class=\"meta\">Room {} · {} · {}</p>\n",
        escape(&room.name),
        escape(&room.topic),
        room.id,
        escape(&room.privacy),
        guest,
    );
    push_entries(&mut body, &room);
    html(StatusCode::OK, &room.name, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(guest_code("/gAbCd1234"), Some("AbCd1234"));
        assert_eq!(guest_code("/gAbC1234"), None);
        assert_eq!(guest_code("/gAbCd12345"), None);
        assert_eq!(guest_code("/gAbC-1234"), None);
        assert_eq!(guest_code("/xAbCd1234"), None);
    }

    #[test]
    fn web_room_paths() {
        assert_eq!(web_room_id("/chat/room/42"), Some(42));
        assert_eq!(web_room_id("/chat/room/x"), None);
        assert_eq!(web_room_id("/chat/room/"), None);
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
