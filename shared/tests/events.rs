//! Every file in events/ parses as the event its function receives (an HTTP API request, or
//! an EventBridge event for the scheduled reminder), and names a function that exists.

use std::path::Path;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;

#[test]
fn every_event_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let function = name.split('.').next().unwrap();
        assert!(root.join("functions").join(function).join("Cargo.toml").exists(), "{name}: no function '{function}'");
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        match value.get("version").and_then(|v| v.as_str()) {
            Some("2.0") => {
                let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(req.uri().path().starts_with("/v1/partners/"), "{name}");
            }
            // A deliberately malformed EventBridge event: the runtime refuses it before the
            // handler runs (the invoke answers with an error), so it must not parse.
            Some("0") if name.ends_with(".malformed.json") => {
                let err = serde_json::from_str::<EventBridgeEvent>(&text).err();
                assert!(err.is_some(), "{name}: parses, but should show a refused event");
            }
            // EventBridge (Scheduler) events, e.g. the token-expiry reminder's daily run.
            Some("0") => {
                let event: EventBridgeEvent =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not an EventBridge event: {e}"));
                assert_eq!(event.detail_type, "Scheduled Event", "{name}");
                assert!(event.time.is_some(), "{name}: no time");
            }
            _ => panic!("{name}: neither an API Gateway payload-format-2.0 event nor an EventBridge event"),
        }
        seen += 1;
    }
    assert!(seen >= 3, "expected sample events, found {seen}");
}
