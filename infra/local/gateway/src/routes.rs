//! The routes of the HTTP API and the function behind each: the same set as the
//! `HttpApi` events in infra/template.yaml and the operations in infra/openapi.yaml
//! (tests in this module check that the three agree).

use serde_json::{Map, Value};

/// `(method, path template, function)`.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/v1/partners/{partner_id}/settings", "settings"),
    ("PUT", "/v1/partners/{partner_id}/settings", "settings"),
    ("DELETE", "/v1/partners/{partner_id}/settings", "settings"),
    ("PUT", "/v1/partners/{partner_id}/token", "settings"),
    ("DELETE", "/v1/partners/{partner_id}/token", "settings"),
    ("POST", "/v1/partners/{partner_id}/connection-check", "connection-check"),
    ("GET", "/v1/partners/{partner_id}/rooms", "connection-check"),
    ("POST", "/v1/partners/{partner_id}/rooms", "connection-check"),
    ("GET", "/v1/partners/{partner_id}/chat/availability", "chat-request"),
    ("POST", "/v1/partners/{partner_id}/chat/requests", "chat-request"),
    ("POST", "/v1/partners/{partner_id}/events", "event-notification"),
];

#[derive(Debug, PartialEq)]
pub struct Matched {
    pub template: &'static str,
    pub function: &'static str,
    pub params: Map<String, Value>,
}

/// Matches like API Gateway: literal segments equal, `{name}` takes one non-empty segment.
pub fn match_route(method: &str, path: &str) -> Option<Matched> {
    let segs: Vec<&str> = path.split('/').collect();
    ROUTES.iter().filter(|(m, _, _)| *m == method).find_map(|(_, template, function)| {
        let tsegs: Vec<&str> = template.split('/').collect();
        if tsegs.len() != segs.len() {
            return None;
        }
        let mut params = Map::new();
        for (t, s) in tsegs.iter().zip(&segs) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    params.insert(name.to_owned(), Value::String((*s).to_owned()));
                }
                Some(_) => return None,
                None if t == s => {}
                None => return None,
            }
        }
        Some(Matched { template, function, params })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates() {
        let m = match_route("PUT", "/v1/partners/p1/settings").unwrap();
        assert_eq!(m.function, "settings");
        assert_eq!(m.params["partner_id"], "p1");
        assert!(match_route("POST", "/v1/partners/p1/settings").is_none());
        assert!(match_route("GET", "/v1/partners//settings").is_none());
        assert!(match_route("GET", "/v1/partners/p1/settings/x").is_none());
    }

    /// Every `HttpApi` event of the SAM template is routed here to the same function, and
    /// every route here is in the template.
    #[test]
    fn agrees_with_the_sam_template() {
        let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap();
        let mut in_template = Vec::new();
        let mut function = String::new();
        let mut path = String::new();
        for line in template.lines() {
            let t = line.trim();
            if let Some(f) = t.strip_prefix("# function: ") {
                function = f.trim().to_owned();
            } else if let Some(p) = t.strip_prefix("Path: ") {
                path = p.trim().to_owned();
            } else if let Some(m) = t.strip_prefix("Method: ") {
                in_template.push((m.trim().to_uppercase(), path.clone(), function.clone()));
            }
        }
        let mut ours: Vec<(String, String, String)> =
            ROUTES.iter().map(|(m, p, f)| (m.to_string(), p.to_string(), f.to_string())).collect();
        in_template.sort();
        ours.sort();
        assert_eq!(in_template, ours);
    }

    /// Every operation of the OpenAPI document has a route here, and every route is documented.
    #[test]
    fn agrees_with_the_openapi_document() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml")).unwrap();
        let mut documented = Vec::new();
        let mut in_paths = false;
        let mut path = String::new();
        for line in doc.lines() {
            if line == "paths:" {
                in_paths = true;
            } else if in_paths && !line.starts_with(' ') && !line.is_empty() {
                in_paths = false;
            } else if in_paths && line.starts_with("  /") {
                path = line.trim().trim_end_matches(':').to_owned();
            } else if in_paths
                && let Some(m) = ["get", "put", "post", "delete", "patch"].iter().find(|m| line == format!("    {m}:"))
            {
                documented.push((m.to_uppercase(), path.clone()));
            }
        }
        let mut ours: Vec<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        documented.sort();
        ours.sort();
        assert_eq!(documented, ours);
    }
}
