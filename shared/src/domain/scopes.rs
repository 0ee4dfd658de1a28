//! HipChat API scopes: the five the guide asks for, their labels on HipChat's token page, and
//! the scope list inside a 403 message.

/// The scopes the integration needs, in the guide's order, with the label HipChat shows on
/// its "API access" page (singular, Title Case).
pub const REQUIRED_SCOPES: [(&str, &str); 5] = [
    ("view_room", "View Room"),
    ("send_message", "Send Message"),
    ("manage_rooms", "Manage Rooms"),
    ("send_notification", "Send Notification"),
    ("view_group", "View Group"),
];

/// Every scope HipChat knew, with its label.
const ALL_SCOPES: [(&str, &str); 8] = [
    ("admin_group", "Administer Group"),
    ("admin_room", "Administer Room"),
    ("manage_rooms", "Manage Rooms"),
    ("send_message", "Send Message"),
    ("send_notification", "Send Notification"),
    ("view_group", "View Group"),
    ("view_messages", "View Messages"),
    ("view_room", "View Room"),
];

/// The token-page label of a scope identifier (the identifier itself when unknown).
pub fn label(scope: &str) -> &str {
    ALL_SCOPES.iter().find(|(id, _)| *id == scope).map_or(scope, |(_, l)| l)
}

/// The required scopes `granted` lacks, in the guide's order.
pub fn missing<S: AsRef<str>>(granted: &[S]) -> Vec<String> {
    REQUIRED_SCOPES
        .iter()
        .filter(|(id, _)| !granted.iter().any(|g| g.as_ref() == *id))
        .map(|(id, _)| (*id).to_owned())
        .collect()
}

/// "Manage Rooms (manage_rooms), View Group (view_group)".
pub fn describe<S: AsRef<str>>(scopes: &[S]) -> String {
    scopes.iter().map(|s| format!("{} ({})", label(s.as_ref()), s.as_ref())).collect::<Vec<_>>().join(", ")
}

/// The scopes named in a HipChat 403 message, e.g.
/// `This action requires one of the following scopes: [u'view_group', u'view_room']`
/// (HipChat's backend printed Python lists). Empty when the message has no list.
pub fn parse_scope_list(message: &str) -> Vec<String> {
    let Some(open) = message.find('[') else { return Vec::new() };
    let Some(close) = message[open..].find(']') else { return Vec::new() };
    message[open + 1..open + close]
        .split(',')
        .map(|part| {
            let part = part.trim();
            let part = part.strip_prefix('u').filter(|p| p.starts_with(['\'', '"'])).unwrap_or(part);
            part.trim_matches(['\'', '"']).to_owned()
        })
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_scope_lists_are_read() {
        assert_eq!(
            parse_scope_list("This action requires one of the following scopes: [u'view_group', u'view_room']"),
            ["view_group", "view_room"]
        );
        assert_eq!(parse_scope_list("requires: ['manage_rooms']"), ["manage_rooms"]);
        assert_eq!(parse_scope_list(r#"requires ["send_message", "admin_room"]"#), ["send_message", "admin_room"]);
        assert!(parse_scope_list("Forbidden").is_empty());
        assert!(parse_scope_list("[unclosed").is_empty());
        assert!(parse_scope_list("[]").is_empty());
    }

    #[test]
    fn missing_scopes_keep_the_guide_order() {
        assert_eq!(missing(&["view_group", "view_room"]), ["send_message", "manage_rooms", "send_notification"]);
        assert!(missing(&REQUIRED_SCOPES.map(|(id, _)| id)).is_empty());
        assert_eq!(missing::<&str>(&[]).len(), 5);
    }

    #[test]
    fn labels_are_the_token_page_labels() {
        assert_eq!(label("manage_rooms"), "Manage Rooms");
        assert_eq!(label("admin_room"), "Administer Room");
        assert_eq!(label("made_up"), "made_up");
        assert_eq!(
            describe(&["send_notification", "view_group"]),
            "Send Notification (send_notification), View Group (view_group)"
        );
    }
}
